"""The one fake pycuda of the tests (kernels and TensorRT alike): CPU stand-ins for ``pycuda.driver``,
``pycuda.compiler`` and libcuda that behave like the GPU where rtdetect can get it wrong.

* ``FakeCudaDriver`` has the ``pycuda.driver`` calls rtdetect makes, modelled on what pycuda and the CUDA
  driver really do where a mistake would go unnoticed on a CPU:

  - **streams queue their work**: copies, memsets, kernel launches (``Function.prepared_async_call``, and
    ``QueuedRuntime``'s), engine executions and event records run only when the host waits
    (``Stream.synchronize``, ``Event.synchronize``) or another stream waits for an event;
    ``Stream.is_done`` is False while work is queued;
  - **pinned host memory is poisoned** (NaN for floats, 0xCD bytes otherwise) when allocated and when a
    device-to-host copy into it is queued, so reading results before the copy completed fails a test;
  - **a context must be current** for memory, copies, modules and launches, and **the context stack is
    modelled** per thread at both levels: pycuda's own stack and the driver's (``Context.push``/``pop`` as
    pycuda does them, and ``detach`` of a primary context that pushes it on the driver stack and releases
    it without popping, as pycuda 2026.1's ``context::detach`` with ``cuDevicePrimaryCtxRelease`` does);
    ``libcuda`` is the matching fake driver library (``cuCtxGetCurrent``, ``cuCtxPopCurrent_v2``,
    ``cuDriverGetVersion``, and stream capture into graphs that replay the recorded work);
  - **kernels**: given the kernel emulator's library (tools/kernels_emulator.py: the real kernels/*.cu
    built for the CPU), ``module_from_buffer`` loads any image and its functions run those kernels, with
    pycuda's launch checks (tuples, ``MAX_THREADS_PER_BLOCK``) and device memory guarded against
    out-of-bounds writes; ``compiler.compile`` records its calls and refuses what nvcc 13 refuses.
* ``modules(driver)`` / ``install(monkeypatch, driver)``: the fake ``pycuda``, ``pycuda.driver`` and
  ``pycuda.compiler`` modules, in ``sys.modules`` with libcuda pointed at the fake.
* ``QueuedRuntime``: the emulator's kernel runtime with its work queued on these streams.

They test rtdetect's use of pycuda and its synchronisation; they prove nothing about pycuda or a GPU (the
``needs_cuda`` tests do).
"""
from __future__ import annotations

import ctypes
import itertools
import struct
import threading
import time
import types

import sys

import numpy as np

from kernels_emulator import EmulatedBuffer

POISON_BYTE = 0xCD
CUDA_ERROR_INVALID_CONTEXT = 201
_HANDLES = itertools.count(0x7000, 0x10)


class FakeError(RuntimeError):
    pass


class FakeCompileError(FakeError):
    """pycuda.driver.CompileError(msg, command_line, stdout=None, stderr=None), raised by pycuda.compiler."""

    def __init__(self, msg, command_line, stdout=None, stderr=None):
        super().__init__(msg)
        self.msg, self.command_line, self.stdout, self.stderr = msg, command_line, stdout, stderr


def poison(array: np.ndarray) -> None:
    """What a host buffer holds before a copy into it completed: NaN floats, 0xCD bytes otherwise."""
    if array.dtype.kind == "f":
        array.fill(np.nan)
    else:
        array.view(np.uint8).fill(POISON_BYTE)


class FakeStream:
    """pycuda's ``Stream`` (``synchronize``, ``is_done``, ``wait_for_event``, ``handle``; no graph capture
    methods: pycuda has none) whose work waits in a queue until the host or another stream waits for it.
    While the fake libcuda captures it (``cuStreamBeginCapture``), work is recorded into the graph instead,
    and waiting for it is an error, as on the driver."""

    def __init__(self, driver=None, flags=0):
        self.handle, self.flags = next(_HANDLES), flags
        self._queue: list = []
        self.capture: list | None = None  # the work recorded while a capture is open
        self.synchronized = 0
        if driver is not None:
            driver.streams[self.handle] = self

    def enqueue(self, work) -> None:
        """Queue ``work()`` (a copy, a launch, an engine run, an event record), or record it in a capture."""
        if self.capture is not None:
            self.capture.append(work)
        else:
            self._queue.append(work)

    def run_one(self) -> None:
        self._queue.pop(0)()

    def synchronize(self):
        if self.capture is not None:
            raise FakeError("cuStreamSynchronize failed: operation not permitted when stream is capturing")
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


class FakeAllocation(EmulatedBuffer):
    """Device memory with a stable address and guard bytes, freed explicitly (like pycuda's DeviceAllocation);
    its bytes start as 0xCD (uninitialised)."""

    freed = False

    @property
    def array(self) -> np.ndarray:
        return self.data

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
        self._driver.pushes += 1
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


class FakeFunction:
    """A kernel of a loaded module: ``prepare``, ``get_attribute``, ``prepared_async_call`` queued on its stream."""

    def __init__(self, driver, name):
        self._driver, self.name, self.arg_types = driver, name, None

    def prepare(self, arg_types):
        self.arg_types = arg_types
        return self

    def get_attribute(self, attribute):
        if attribute != "MAX_THREADS_PER_BLOCK":
            raise FakeError(f"unknown function attribute {attribute!r}")
        return self._driver.max_threads_per_block

    def prepared_async_call(self, grid, block, stream, *args, shared_size=0):
        driver = self._driver
        driver.require_context()
        if self.arg_types is None or not isinstance(stream, FakeStream):
            raise FakeError("launch of an unprepared function or without a stream")
        # pycuda takes a block tuple (a non-tuple is the deprecated pre-2011 form that shifts the arguments)
        if not isinstance(block, tuple) or len(block) != 3 or not isinstance(grid, tuple) or not 1 <= len(grid) <= 3:
            raise FakeError(f"grid {grid!r} / block {block!r} must be tuples (block of 3)")
        if block[0] * block[1] * block[2] > driver.max_threads_per_block:
            raise FakeError("cuLaunchKernel failed: too many resources requested for launch")
        driver.launches.append((self.name, tuple(grid), tuple(block)))
        stream.enqueue(lambda: driver.run_kernel(self.name, self.arg_types, grid, block, args))


class FakeModule:
    def __init__(self, driver, image):
        self._driver, self.cubin = driver, image

    def get_function(self, name):
        self._driver.require_context()
        return FakeFunction(self._driver, name)


class FakeCudaDriver(types.SimpleNamespace):
    """The subset of ``pycuda.driver`` rtdetect uses (device facts, primary context, streams, events,
    pinned and device memory, async copies, modules and launches), on host memory, with queued streams and
    a modelled context stack (see the module docstring).

    driver_version: what ``cuDriverGetVersion`` reports (12040: CUDA 12.4; 13000: 13.0, r580); library: the kernel
    emulator's ``KernelLibrary`` that loaded modules run (None: loading one fails); capability: the
    device's compute capability (tests may change it, and ``max_threads_per_block``, ``nvcc_archs``).
    ``module_from_buffer`` refuses an image this GPU and driver could not load, as the driver does
    (``image_refusal``). ``launches`` and ``compiles`` record the calls made.
    """

    def __init__(self, device_count=1, driver_version=12040, *, library=None, capability=(8, 9)):
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
                return driver.capability

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

        super().__init__(Error=FakeError, CompileError=FakeCompileError,
                         Stream=lambda flags=0: FakeStream(driver, flags), Event=FakeEvent,
                         Device=Device, Context=types.SimpleNamespace(pop=pop),
                         device_attribute=types.SimpleNamespace(INTEGRATED="INTEGRATED",
                                                                MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT"),
                         function_attribute=types.SimpleNamespace(MAX_THREADS_PER_BLOCK="MAX_THREADS_PER_BLOCK"))
        self.capability, self.max_threads_per_block = tuple(capability), 1024
        self.nvcc_archs = {"sm_75", "sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_100", "sm_120"}  # nvcc 13's
        self.driver_version = driver_version
        self.launches: list[tuple] = []
        self.compiles: list[dict] = []
        self.allocations: list[FakeAllocation] = []
        self.streams: dict[int, FakeStream] = {}
        self.retained = self.released = 0
        self.pushes = 0  # Context.push calls, for push/pop budgets
        self.graphs: dict[int, list] = {}  # captured graphs and their instantiations (the fake libcuda's)
        self.graph_execs: dict[int, list] = {}
        self.graph_launches = 0
        self._library = library
        self._threads = threading.local()
        self.libcuda = _fake_libcuda(self)

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

    def require_context(self) -> None:
        """pycuda's calls need a current context (cuMemAlloc and friends fail with INVALID_CONTEXT)."""
        if not self.stacks().pycuda:
            raise FakeError("cuMemAlloc failed: invalid device context (no current context)")

    @staticmethod
    def init():
        return None

    def module_from_buffer(self, image):
        self.require_context()
        if self._library is None:
            raise FakeError("this fake driver was made without the kernel emulator's library")
        refusal = image_refusal(bytes(image), self.capability, self.driver_version)
        if refusal is not None:
            raise FakeError(f"cuModuleLoadDataEx failed: {refusal}")
        return FakeModule(self, image)

    def run_kernel(self, name, arg_types, grid, block, args) -> None:
        """A queued launch reaching the head of its stream: the emulated kernel, then the guard bytes."""
        self._library.launch(name, arg_types, grid, block, args)
        broken = [a for a in self.allocations if not a.freed and not a.guards_intact()]
        if broken:
            raise FakeError(f"{name} wrote outside a device buffer of {broken[0].nbytes} bytes")

    def mem_alloc(self, nbytes):
        self.require_context()
        allocation = FakeAllocation(nbytes)
        self.allocations.append(allocation)
        return allocation

    def pagelocked_empty(self, shape, dtype):
        self.require_context()
        array = np.empty(shape, dtype)
        poison(array)
        return array

    def memset_d8_async(self, dest, value, nbytes, stream=None):
        self.require_context()
        run_on(stream, lambda: ctypes.memset(int(dest), int(value), int(nbytes)) if nbytes else None)

    def memcpy_htod_async(self, dest, src, stream=None):
        self.require_context()
        src = np.ascontiguousarray(src)  # read when the copy runs, as the DMA engine does
        run_on(stream, lambda: _memmove(int(dest), src.ctypes.data, src.nbytes))

    def memcpy_dtoh_async(self, dest, src, stream=None):
        self.require_context()
        poison(dest)  # undefined until the copy completes
        run_on(stream, lambda: _memmove(dest.ctypes.data, int(src), dest.nbytes))

    def compile(self, source, options=None, no_extern_c=False, arch=None, include_dirs=()):
        """``pycuda.compiler.compile``: records the call; refuses an architecture nvcc 13 dropped, in nvcc's words."""
        self.compiles.append({"options": list(options), "no_extern_c": no_extern_c, "arch": arch,
                              "include_dirs": list(include_dirs)})
        if arch not in self.nvcc_archs:
            raise FakeCompileError("nvcc compilation of /tmp/kernel.cu failed", ["nvcc", f"-arch={arch}"],
                                   stdout="", stderr=f"nvcc fatal   : Unsupported gpu architecture "
                                                     f"'compute_{arch[3:]}'\n")
        return b"fake cubin of " + source[:40].encode()


FATBIN_MAGIC = 0xBA55ED50
FATBIN_PTX, FATBIN_ELF = 1, 2


def fatbin_entries(image: bytes) -> list[tuple[int, int, tuple[int, int] | None]]:
    """(kind, architecture e.g. 86, PTX ISA version or None) of each entry of an nvcc fatbin: a 16-byte
    header {magic, version, header size, payload size}, then entries {kind u16, version u16, header size
    u32, padded payload u64, ...; u32 at 24: PTX ISA (major << 16 | minor), u32 at 28: sm architecture}."""
    magic, _, header, size = struct.unpack_from("<IHHQ", image, 0)
    if magic != FATBIN_MAGIC:
        raise ValueError("not a fatbin")
    entries, offset = [], header
    while offset < header + size:
        kind, _, entry_header, padded = struct.unpack_from("<HHIQ", image, offset)
        isa, arch = struct.unpack_from("<II", image, offset + 24)
        entries.append((kind, arch, (isa >> 16, isa & 0xFFFF) if kind == FATBIN_PTX else None))
        offset += entry_header + padded
    return entries


def image_refusal(image: bytes, capability: tuple[int, int], driver_version: int) -> str | None:
    """Why the CUDA driver would refuse to load ``image`` on a GPU of ``capability`` under a driver of
    ``driver_version`` (e.g. 12080), or None. A cubin loads on its own major architecture at a minor no
    older than its own; PTX is JIT-compiled for any GPU at least its architecture. A driver loads what a
    toolkit of its own CUDA major or older built (cubins) and PTX of an ISA its CUDA release knows (PTX ISA
    9.m came with CUDA 13.m, 8.m with CUDA 12.m; the toolkit of a fatbin's cubins is that of its PTX).
    Images of the fake ``compiler.compile`` load anywhere (it compiled them for this GPU)."""
    if image.startswith(b"fake cubin"):
        return None
    try:
        entries = fatbin_entries(image)
    except (ValueError, struct.error):
        return "device kernel image is invalid (CUDA_ERROR_INVALID_IMAGE)"
    driver = (driver_version // 1000, driver_version % 1000 // 10)
    isas = [isa for kind, _, isa in entries if kind == FATBIN_PTX]
    toolkit = max((isa[0] + 4, isa[1]) for isa in isas) if isas else (0, 0)
    major, minor = capability
    cubin = any(kind == FATBIN_ELF and arch // 10 == major and arch % 10 <= minor for kind, arch, _ in entries)
    ptx = any(kind == FATBIN_PTX and (arch // 10, arch % 10) <= (major, minor) for kind, arch, _ in entries)
    if cubin and driver[0] >= toolkit[0]:
        return None
    if ptx and driver >= toolkit:
        return None
    if ptx and not cubin:
        return "the provided PTX was compiled with an unsupported toolchain (CUDA_ERROR_UNSUPPORTED_PTX_VERSION)"
    return "no kernel image is available for execution on the device (CUDA_ERROR_NO_BINARY_FOR_GPU)"


class FakeNvrtc:
    """``rtdetect.gpu.nvrtc.Nvrtc`` as NVIDIA's wheel would be: its CUDA ``version``, the ``architectures``
    it knows, and cubins (images the fake driver loads) compiled for those only, recorded in ``compiles``."""

    def __init__(self, version=(12, 9), architectures=(75, 80, 86, 87, 89, 90, 100, 103, 120)):
        self._version, self._architectures = tuple(version), list(architectures)
        self.compiles: list[tuple[str, str]] = []

    def version(self):
        return self._version

    def architectures(self):
        return list(self._architectures)

    def compile_cubin(self, source, name, arch, include_dir):
        from rtdetect.gpu.nvrtc import NvrtcError

        self.compiles.append((name, arch))
        if int(arch[3:]) not in self._architectures:
            raise NvrtcError(f"NVRTC failed to compile {name} for {arch}: nvrtc: error: invalid value for "
                             f"--gpu-architecture (-arch)")
        return b"fake cubin of " + source[:40].encode()


def install_nvrtc(monkeypatch, compiler: FakeNvrtc | None) -> FakeNvrtc | None:
    """Make ``rtdetect.gpu.nvrtc.load`` return ``compiler`` (None: no NVRTC here); clears compiled cubins."""
    from rtdetect.gpu import compile as gpu_compile, nvrtc

    monkeypatch.setattr(nvrtc, "load", lambda: compiler)
    gpu_compile.compile_with_nvrtc.cache_clear()
    return compiler


def modules(driver: FakeCudaDriver) -> dict:
    """The fake ``pycuda``, ``pycuda.driver`` and ``pycuda.compiler`` modules, by name, around ``driver``."""
    compiler = types.ModuleType("pycuda.compiler")
    compiler.compile = driver.compile
    package = types.ModuleType("pycuda")
    package.driver, package.compiler = driver, compiler
    return {"pycuda": package, "pycuda.driver": driver, "pycuda.compiler": compiler}


def install(monkeypatch, driver: FakeCudaDriver) -> FakeCudaDriver:
    """Put ``driver``'s fake pycuda modules in sys.modules and its libcuda behind ``rtdetect.gpu.libcuda``."""
    from rtdetect.gpu import libcuda

    for name, module in modules(driver).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(libcuda, "load", lambda: driver.libcuda)
    return driver


CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_ILLEGAL_STATE = 1, 401


def _fake_libcuda(driver: FakeCudaDriver):
    """A stand-in for the loaded ``libcuda`` (what ``rtdetect.gpu.libcuda.load`` returns) sharing the
    fake driver's context stack, with stream capture: ``cuStreamBeginCapture_v2`` records the stream's work
    until ``cuStreamEndCapture`` makes it a graph, which ``cuGraphLaunch`` queues again on a stream, the
    same work on the same addresses (``driver.graph_launches`` counts them). Out-parameters arrive as
    ``ctypes.byref`` (graphs) or pointers (contexts)."""

    def store(out, value) -> None:
        if hasattr(out, "_obj"):
            out._obj.value = value
        else:
            out[0] = value

    def stream_of(handle):
        return driver.streams.get(getattr(handle, "value", handle))

    def cuStreamBeginCapture_v2(stream, mode):  # noqa: N802
        found = stream_of(stream)
        if found is None or found.capture is not None:
            return CUDA_ERROR_ILLEGAL_STATE
        found.capture = []
        return 0

    def cuStreamEndCapture(stream, out):  # noqa: N802
        found = stream_of(stream)
        if found is None or found.capture is None:
            return CUDA_ERROR_ILLEGAL_STATE
        handle = next(_HANDLES)
        driver.graphs[handle], found.capture = found.capture, None
        store(out, handle)
        return 0

    def cuGraphInstantiateWithFlags(out, graph, flags):  # noqa: N802
        work = driver.graphs.get(getattr(graph, "value", graph))
        if work is None:
            return CUDA_ERROR_INVALID_VALUE
        handle = next(_HANDLES)
        driver.graph_execs[handle] = list(work)
        store(out, handle)
        return 0

    def cuGraphLaunch(graph_exec, stream):  # noqa: N802
        work, found = driver.graph_execs.get(getattr(graph_exec, "value", graph_exec)), stream_of(stream)
        if work is None or found is None:
            return CUDA_ERROR_INVALID_VALUE
        driver.graph_launches += 1
        for step in work:
            found.enqueue(step)
        return 0

    def cuGraphExecDestroy(graph_exec):  # noqa: N802
        return 0 if driver.graph_execs.pop(getattr(graph_exec, "value", graph_exec), None) is not None \
            else CUDA_ERROR_INVALID_VALUE

    def cuGraphDestroy(graph):  # noqa: N802
        return 0 if driver.graphs.pop(getattr(graph, "value", graph), None) is not None else CUDA_ERROR_INVALID_VALUE

    def cuGetErrorString(status, out):  # noqa: N802
        store(out, f"fake CUDA error {status}".encode())
        return 0

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
        out[0] = driver.driver_version  # read at the call: a test may change it
        return 0

    return types.SimpleNamespace(cuCtxGetCurrent=cuCtxGetCurrent, cuCtxPopCurrent_v2=cuCtxPopCurrent_v2,
                                 cuDriverGetVersion=cuDriverGetVersion,
                                 cuStreamBeginCapture_v2=cuStreamBeginCapture_v2, cuStreamEndCapture=cuStreamEndCapture,
                                 cuGraphInstantiateWithFlags=cuGraphInstantiateWithFlags, cuGraphLaunch=cuGraphLaunch,
                                 cuGraphExecDestroy=cuGraphExecDestroy, cuGraphDestroy=cuGraphDestroy,
                                 cuGetErrorString=cuGetErrorString)


class QueuedRuntime:
    """A kernel runtime (``rtdetect.gpu.runtime.KernelRuntime``) around the emulator's whose launches,
    memsets and copies wait in the fake stream they are given, like a GPU's."""

    def __init__(self, runtime):
        self._runtime = runtime
        self.block_threads, self.grid_blocks = runtime.block_threads, runtime.grid_blocks
        self.launches: list[tuple[str, tuple]] = []  # (kernel, grid) of every launch queued, in order

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
        self.launches.append((kernel, tuple(int(g) for g in grid)))
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


