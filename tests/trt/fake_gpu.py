"""CPU stand-ins for pycuda and a TensorRT engine, to run rtdetect's GPU pipeline orchestration on the CPU.

* ``FakeCudaDriver`` has the few ``pycuda.driver`` calls the pipeline makes (streams, events, pinned and
  device memory, async copies) on host memory; streams execute immediately, events stamp the wall clock.
* ``OrtRunner`` stands in for ``rtdetect.inference.tensorrt.runner.EngineRunner``: the same attributes (named I/O tensor
  specs, device buffers, ``enqueue``), backed by ONNX Runtime reading its input from, and writing its
  outputs to, those "device" buffers in place.

Together with the kernel emulator (tools/kernels_emulator.py: the real kernels/*.cu compiled for the CPU)
they test rtdetect's zero-copy wiring (kernels writing the engine's input buffer and reading its outputs,
double-buffered uploads, result download and assembly). They prove nothing about TensorRT, pycuda or a GPU.
"""
from __future__ import annotations

import contextlib
import ctypes
import time
import types

import numpy as np

from rtdetect.inference.tensorrt.runner import TensorSpec


class FakeError(RuntimeError):
    pass


class FakeStream:
    """pycuda's ``Stream``: ``synchronize``, ``is_done``, ``wait_for_event``, ``handle`` and nothing else
    (pycuda has no graph capture methods)."""

    handle = 0x7000

    def synchronize(self):
        return None

    def is_done(self):
        return True

    def wait_for_event(self, event):
        if not isinstance(event, FakeEvent) or event.stamp is None:
            raise FakeError("wait_for_event needs a recorded pycuda Event")


class FakeEvent:
    def __init__(self, flags=0):
        self.stamp = None

    def record(self, stream=None):
        self.stamp = time.perf_counter()
        return self

    def synchronize(self):
        return self

    def time_since(self, other):
        if self.stamp is None or other.stamp is None:
            raise FakeError("cuEventElapsedTime: an event was never recorded")
        return (self.stamp - other.stamp) * 1e3


class FakeAllocation:
    """Host memory with a stable address, freed explicitly (like pycuda's DeviceAllocation)."""

    def __init__(self, nbytes):
        self.array = np.full(max(int(nbytes), 1), 0xCD, np.uint8)
        self.freed = False

    def __int__(self):
        return int(self.array.ctypes.data)

    def free(self):
        self.freed = True


def _memmove(dest: int, src: int, nbytes: int) -> None:
    if nbytes:
        ctypes.memmove(dest, src, nbytes)


class FakeContext:
    """A retained primary context: counts pushes, pops and detaches on its driver."""

    def __init__(self, driver):
        self._driver = driver

    def push(self):
        self._driver.context_depth += 1

    def pop(self):
        self._driver.context_depth -= 1

    def detach(self):
        self._driver.detached += 1


class FakeCudaDriver(types.SimpleNamespace):
    """The subset of ``pycuda.driver`` rtdetect uses (device facts, primary context, streams, events,
    pinned and device memory, async copies), on host memory."""

    def __init__(self, device_count=1):
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
                return 0

            def retain_primary_context(self):
                return FakeContext(driver)

        def pop():
            driver.context_depth -= 1

        super().__init__(Error=FakeError, Stream=FakeStream, Event=FakeEvent, Device=Device,
                         Context=types.SimpleNamespace(pop=pop),
                         device_attribute=types.SimpleNamespace(INTEGRATED="INTEGRATED"))
        self.allocations: list[FakeAllocation] = []
        self.context_depth = 0
        self.detached = 0

    @staticmethod
    def init():
        return None

    def mem_alloc(self, nbytes):
        allocation = FakeAllocation(nbytes)
        self.allocations.append(allocation)
        return allocation

    @staticmethod
    def pagelocked_empty(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def memcpy_htod_async(dest, src, stream=None):
        src = np.ascontiguousarray(src)
        _memmove(int(dest), src.ctypes.data, src.nbytes)

    @staticmethod
    def memcpy_dtoh_async(dest, src, stream=None):
        _memmove(dest.ctypes.data, int(src), dest.nbytes)


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
        self.cuda, self.stream = cuda, FakeStream()
        self.context = types.SimpleNamespace(active=contextlib.nullcontext)
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
