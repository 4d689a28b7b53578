"""CPU stand-ins for pycuda, libcuda and a TensorRT engine that behave like the GPU where rtdetect can get it wrong.

* ``FakeCudaDriver`` has the ``pycuda.driver`` calls rtdetect makes, modelled on what pycuda and the CUDA
  driver really do where a mistake would go unnoticed on a CPU:

  - **streams queue their work**: copies, kernel launches (through ``QueuedRuntime``), engine executions
    and event records run only when the host waits (``Stream.synchronize``, ``Event.synchronize``) or
    another stream waits for an event; ``Stream.is_done`` is False while work is queued;
  - **pinned host memory is poisoned** (NaN for floats, 0xCD bytes otherwise) when allocated and when a
    device-to-host copy into it is queued, so reading results before the copy completed fails a test;
  - **the context stack is modelled** per thread at both levels: pycuda's own stack and the driver's
    (``Context.push``/``pop`` as pycuda does them, and ``detach`` of a primary context that pushes it on the
    driver stack and releases it without popping, as pycuda 2026.1's ``context::detach`` with
    ``cuDevicePrimaryCtxRelease`` does); ``libcuda`` is the matching fake driver library
    (``cuCtxGetCurrent``, ``cuCtxPopCurrent_v2``, ``cuDriverGetVersion``; no graph calls).
* ``OrtRunner`` stands in for ``rtdetect.inference.tensorrt.runner.EngineRunner``: the same attributes
  (named I/O tensor specs, device buffers, ``enqueue``), backed by ONNX Runtime reading its input from, and
  writing its outputs to, those "device" buffers, queued on its stream.

Together with the kernel emulator (tools/kernels_emulator.py: the real kernels/*.cu compiled for the CPU)
they test rtdetect's zero-copy wiring and its synchronisation. They prove nothing about TensorRT, pycuda
or a GPU.
"""
from __future__ import annotations

import contextlib
import ctypes
import itertools
import threading
import time
import types

import numpy as np

from rtdetect.inference.tensorrt.runner import TensorSpec

POISON_BYTE = 0xCD
CUDA_ERROR_INVALID_CONTEXT = 201
_HANDLES = itertools.count(0x7000, 0x10)


class FakeError(RuntimeError):
    pass


def poison(array: np.ndarray) -> None:
    """What a host buffer holds before a copy into it completed: NaN floats, 0xCD bytes otherwise."""
    if array.dtype.kind == "f":
        array.fill(np.nan)
    else:
        array.view(np.uint8).fill(POISON_BYTE)


class FakeStream:
    """pycuda's ``Stream`` (``synchronize``, ``is_done``, ``wait_for_event``, ``handle``; no graph capture
    methods: pycuda has none) whose work waits in a queue until the host or another stream waits for it."""

    def __init__(self, driver=None, flags=0):
        self.handle = next(_HANDLES)
        self._queue: list = []
        self.synchronized = 0
        if driver is not None:
            driver.streams[self.handle] = self

    def enqueue(self, work) -> None:
        """Queue ``work()`` (a copy, a launch, an engine run, an event record)."""
        self._queue.append(work)

    def run_one(self) -> None:
        self._queue.pop(0)()

    def synchronize(self):
        self.synchronized += 1
        while self._queue:
            self.run_one()

    def is_done(self):
        return not self._queue

    def wait_for_event(self, event):
        if not isinstance(event, FakeEvent) or event.stream is False:
            raise FakeError("wait_for_event needs a recorded pycuda Event")
        token = event.token
        self.enqueue(lambda: event.wait(token))


def run_on(stream, work) -> None:
    """Queue ``work`` on a fake stream, or run it now on the default stream (None)."""
    if isinstance(stream, FakeStream):
        stream.enqueue(work)
    else:
        work()


class FakeEvent:
    """pycuda's ``Event``: ``record(stream)`` queues a mark; ``synchronize`` runs its stream up to the mark;
    ``time_since`` needs both marks reached (``cuEventElapsedTime`` fails with NOT_READY otherwise)."""

    def __init__(self, flags=0):
        self.stream, self.token, self.reached, self.stamp = False, 0, 0, None

    def record(self, stream=None):
        self.stream, self.token = stream, self.token + 1
        token = self.token

        def mark():
            self.reached, self.stamp = max(self.reached, token), time.perf_counter()
        run_on(stream, mark)
        return self

    def wait(self, token) -> None:
        while self.reached < token and isinstance(self.stream, FakeStream) and not self.stream.is_done():
            self.stream.run_one()

    def synchronize(self):
        self.wait(self.token)
        return self

    def query(self):
        return self.reached >= self.token

    def time_since(self, other):
        if other.stamp is None or not self.query() or not other.query():
            raise FakeError("cuEventElapsedTime failed: device not ready (an event has not completed)")
        return (self.stamp - other.stamp) * 1e3


class FakeAllocation:
    """Device memory with a stable address, freed explicitly (like pycuda's DeviceAllocation)."""

    def __init__(self, nbytes):
        self.array = np.full(max(int(nbytes), 1), POISON_BYTE, np.uint8)
        self.freed = False

    def __int__(self):
        return int(self.array.ctypes.data)

    def free(self):
        self.freed = True


def _memmove(dest: int, src: int, nbytes: int) -> None:
    if nbytes:
        ctypes.memmove(dest, src, nbytes)


class FakeContext:
    """A pycuda ``Context`` from ``Device.retain_primary_context``: push and detach as pycuda does them."""

    def __init__(self, driver, handle):
        self._driver, self.handle, self.valid = driver, handle, True

    def push(self):
        stacks = self._driver.stacks()
        if stacks.pycuda:  # pycuda's prepare_context_switch: its own contexts never stack on the driver
            stacks.driver.pop()
        stacks.driver.append(self.handle)
        stacks.pycuda.append(self)

    def detach(self):
        if not self.valid:
            raise FakeError("cannot detach from invalid context")
        stacks = self._driver.stacks()
        active = bool(stacks.pycuda) and stacks.pycuda[-1] is self
        if not active:
            stacks.driver.append(self.handle)  # cuCtxPushCurrent, "pop is implicit in detach": it is not
        self._driver.released += 1  # cuDevicePrimaryCtxRelease: does not pop
        self.valid = False
        if active:
            stacks.pycuda.pop()
            if stacks.pycuda:
                stacks.driver.append(stacks.pycuda[-1].handle)


class FakeCudaDriver(types.SimpleNamespace):
    """The subset of ``pycuda.driver`` rtdetect uses (device facts, primary context, streams, events,
    pinned and device memory, async copies), on host memory, with queued streams and a modelled context
    stack (see the module docstring). ``driver_version``: what ``cuDriverGetVersion`` reports."""

    def __init__(self, device_count=1, driver_version=12040):
        driver = self

        class Device:
            def __init__(self, index):
                self.index = index

            @staticmethod
            def count():
                return device_count

            def name(self):
                return "Fake GPU 4090"

            def compute_capability(self):
                return (8, 9)

            def get_attribute(self, attribute):
                return 4 if attribute == "MULTIPROCESSOR_COUNT" else 0

            def retain_primary_context(self):
                driver.retained += 1
                return FakeContext(driver, 0xC0DE00 + self.index)

        def pop():
            stacks = driver.stacks()
            if stacks.pycuda:
                stacks.driver.pop()
            if not stacks.pycuda:
                raise FakeError("cannot pop non-current context")
            stacks.pycuda.pop()
            if stacks.pycuda:
                stacks.driver.append(stacks.pycuda[-1].handle)

        super().__init__(Error=FakeError, Stream=lambda flags=0: FakeStream(driver, flags), Event=FakeEvent,
                         Device=Device, Context=types.SimpleNamespace(pop=pop),
                         device_attribute=types.SimpleNamespace(INTEGRATED="INTEGRATED",
                                                                MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT"))
        self.allocations: list[FakeAllocation] = []
        self.streams: dict[int, FakeStream] = {}
        self.retained = self.released = 0
        self._threads = threading.local()
        self.libcuda = _fake_libcuda(self, driver_version)

    def stacks(self):
        """The calling thread's context stacks: ``driver`` (handles, as cuCtxGetCurrent sees them) and
        ``pycuda`` (pycuda's own context objects)."""
        if not hasattr(self._threads, "driver"):
            self._threads.driver, self._threads.pycuda = [], []
        return self._threads

    @property
    def context_depth(self) -> int:
        """How many contexts the calling thread's driver stack holds (0 when everything was popped)."""
        return len(self.stacks().driver)

    @staticmethod
    def init():
        return None

    def mem_alloc(self, nbytes):
        allocation = FakeAllocation(nbytes)
        self.allocations.append(allocation)
        return allocation

    @staticmethod
    def pagelocked_empty(shape, dtype):
        array = np.empty(shape, dtype)
        poison(array)
        return array

    @staticmethod
    def memcpy_htod_async(dest, src, stream=None):
        src = np.ascontiguousarray(src)  # read when the copy runs, as the DMA engine does
        run_on(stream, lambda: _memmove(int(dest), src.ctypes.data, src.nbytes))

    @staticmethod
    def memcpy_dtoh_async(dest, src, stream=None):
        poison(dest)  # undefined until the copy completes
        run_on(stream, lambda: _memmove(dest.ctypes.data, int(src), dest.nbytes))


def _fake_libcuda(driver: FakeCudaDriver, version: int):
    """A stand-in for the loaded ``libcuda`` (what ``rtdetect.gpu.libcuda.load`` returns) sharing the
    fake driver's context stack; it has no graph entry points, like a driver rtdetect cannot capture on."""

    def cuCtxGetCurrent(out):  # noqa: N802 - the driver's names
        stack = driver.stacks().driver
        out[0] = stack[-1] if stack else None
        return 0

    def cuCtxPopCurrent_v2(out):  # noqa: N802
        stack = driver.stacks().driver
        if not stack:
            return CUDA_ERROR_INVALID_CONTEXT
        out[0] = stack.pop()
        return 0

    def cuDriverGetVersion(out):  # noqa: N802
        out[0] = version
        return 0

    return types.SimpleNamespace(cuCtxGetCurrent=cuCtxGetCurrent, cuCtxPopCurrent_v2=cuCtxPopCurrent_v2,
                                 cuDriverGetVersion=cuDriverGetVersion)


class QueuedRuntime:
    """A kernel runtime (``rtdetect.gpu.runtime.KernelRuntime``) around the emulator's whose launches,
    memsets and copies wait in the fake stream they are given, like a GPU's."""

    def __init__(self, runtime):
        self._runtime = runtime
        self.block_threads, self.grid_blocks = runtime.block_threads, runtime.grid_blocks

    def alloc(self, nbytes):
        return self._runtime.alloc(nbytes)

    def free(self, buffer):
        self._runtime.free(buffer)

    def prepare(self, kernels):
        self._runtime.prepare(kernels)

    def host_empty(self, shape, dtype):
        array = self._runtime.host_empty(shape, dtype)
        poison(array)
        return array

    def launch(self, kernel, grid, block, args, stream=None):
        args = list(args)
        run_on(stream, lambda: self._runtime.launch(kernel, grid, block, args))

    def memset(self, address, value, nbytes, stream=None):
        run_on(stream, lambda: self._runtime.memset(address, value, nbytes))

    def upload(self, address, host, stream=None):
        host = np.ascontiguousarray(host)
        run_on(stream, lambda: self._runtime.upload(address, host))

    def download(self, host, address, stream=None):
        poison(host)
        run_on(stream, lambda: self._runtime.download(host, address))

    def synchronize(self, stream=None):
        if isinstance(stream, FakeStream):
            stream.synchronize()

    def close(self):
        """Nothing to release: the wrapped emulator belongs to the test fixture that made it."""


def device_view(allocation, shape, dtype) -> np.ndarray:
    """A NumPy array over a fake device allocation (for the fake engine and assertions)."""
    count = int(np.prod(shape))
    return allocation.array[:count * np.dtype(dtype).itemsize].view(dtype).reshape(shape)


class OrtRunner:
    """Stands in for EngineRunner at batch 1: ONNX Runtime runs on the engine's "device" buffers in place."""

    def __init__(self, model_path, cuda: FakeCudaDriver):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.cuda, self.stream = cuda, cuda.Stream()
        self.context = types.SimpleNamespace(active=contextlib.nullcontext, driver=cuda, is_open=True)
        inp = self._session.get_inputs()[0]
        self.inputs = [TensorSpec(inp.name, True, np.dtype(np.float32), tuple(inp.shape), tuple(inp.shape))]
        probe = self._session.run(None, {inp.name: np.zeros(inp.shape, np.float32)})
        self.outputs = [TensorSpec(o.name, False, np.dtype(np.float32), a.shape, a.shape)
                        for o, a in zip(self._session.get_outputs(), probe, strict=True)]
        self.output_shapes = {s.name: s.max_shape for s in self.outputs}
        self.device = {s.name: cuda.mem_alloc(s.max_bytes) for s in self.inputs + self.outputs}
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.enqueues = 0

    @property
    def input(self):
        return self.inputs[0]

    def set_batch(self, batch):
        if batch != 1:
            raise ValueError("the fake runner is batch 1")

    def enqueue(self):
        self.stream.enqueue(self._run)

    def _run(self):
        source = self.input
        tensor = device_view(self.device[source.name], source.max_shape, source.dtype).copy()
        values = self._session.run(None, {source.name: tensor})
        for spec, value in zip(self.outputs, values, strict=True):
            device_view(self.device[spec.name], spec.max_shape, spec.dtype)[...] = value
        self.enqueues += 1


class FakeEngine:
    """The attributes of TensorRTEngine the GPU pipeline reads, around an OrtRunner."""

    def __init__(self, runner: OrtRunner):
        self.runner = runner
        self.metadata = runner.metadata
        self.input_hw = tuple(int(d) for d in runner.input.max_shape[2:4])
        self.device = 0
