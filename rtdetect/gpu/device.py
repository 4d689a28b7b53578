"""The CUDA device: pycuda imported once (one helper), the device's facts, and its primary context (one owner).

pycuda beside torch (or any other CUDA user) fights over contexts when each creates its own
(TensorRT issue #2357). rtdetect never creates a context and never uses ``pycuda.autoinit``: a
``PrimaryContext`` retains the device's *primary* context (``Device.retain_primary_context``, the one the
CUDA runtime, torch and TensorRT use) and makes it current only around rtdetect's own work
(``Context.push`` / ``Context.pop``). The kernel runtime, the TensorRT build and runner and the fused GPU
pipeline all use this one class; the GPU pipeline shares the engine's instance, so one process retains the
context once per device user and leaves every thread's context stack as it found it.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Iterator

from . import libcuda
from .errors import INSTALL_HINT, CudaUnavailableError


# CU_STREAM_NON_BLOCKING (cuda.h): a stream that never synchronises with the legacy default stream, so work
# another library queues on stream 0 neither waits for ours nor joins (and breaks) our CUDA graph capture.
STREAM_NON_BLOCKING = 1


def new_stream(driver):
    """A new non-blocking ``pycuda.driver.Stream`` of ``driver`` (pycuda's ``Stream(flags)`` passes the
    flags to ``cuStreamCreate``); needs a current context."""
    return driver.Stream(flags=STREAM_NON_BLOCKING)


def import_driver():
    """``pycuda.driver``, initialised (``cuInit``); CudaUnavailableError saying whether pycuda or the
    NVIDIA driver is what is missing."""
    try:
        import pycuda.driver as driver
    except ImportError as exc:
        raise CudaUnavailableError(_import_problem(exc)) from None
    try:
        driver.init()
    except driver.Error as exc:
        raise CudaUnavailableError(f"the NVIDIA driver cannot be initialised ({exc}): no usable GPU here, or "
                                   f"the driver is broken (check `nvidia-smi`)") from None
    return driver


def _import_problem(exc: ImportError) -> str:
    """What a failed ``import pycuda.driver`` means, in the user's terms."""
    text = str(exc)
    if "libcuda" in text or "nvcuda" in text:  # pycuda's extension links the driver library
        return (f"the NVIDIA driver is not installed: pycuda is, but the driver library is missing ({text}); "
                f"install the NVIDIA driver for this GPU")
    if "undefined symbol" in text:
        return (f"pycuda was built against a newer CUDA than this NVIDIA driver provides ({text}); update "
                f"the driver or reinstall pycuda against this machine's CUDA")
    if getattr(exc, "name", None) in ("pycuda", "pycuda.driver") or "No module named 'pycuda" in text:
        return f"pycuda is not installed: {INSTALL_HINT}"
    return f"pycuda cannot be imported ({text}): {INSTALL_HINT}"


@dataclass(frozen=True)
class DeviceInfo:
    """index: CUDA ordinal; name: e.g. "NVIDIA GeForce RTX 4090" or "Orin"; compute_capability: (8, 9);
    integrated: True on Jetson (CPU and GPU share memory)."""

    index: int
    name: str
    compute_capability: tuple[int, int]
    integrated: bool = False


def _device(driver, index: int):
    try:
        count = driver.Device.count()
    except driver.Error as exc:
        raise CudaUnavailableError(f"the NVIDIA driver cannot list its devices ({exc})") from None
    if not 0 <= index < count:
        raise CudaUnavailableError(f"CUDA device {index} does not exist ({count} device(s) found)")
    return driver.Device(index)


def query_device(index: int = 0) -> DeviceInfo:
    """Facts about CUDA device ``index``; CudaUnavailableError when there is no such device."""
    driver = import_driver()
    device = _device(driver, index)
    major, minor = device.compute_capability()
    integrated = bool(device.get_attribute(driver.device_attribute.INTEGRATED))
    return DeviceInfo(index, device.name(), (int(major), int(minor)), integrated)


class PrimaryContext:
    """The primary context of CUDA device ``index``, retained for this object's lifetime.

    ``with ctx.active():`` makes it current on the calling thread and pops it afterwards (it may be entered
    from any thread, and nested). ``close()`` releases the retain; use the object as a context manager.
    ``driver`` and ``device`` are the pycuda module and ``Device`` it was made with.

    Release: pycuda's ``Context.detach`` of a primary context that is not current pushes it on the thread's
    driver-level stack and calls ``cuDevicePrimaryCtxRelease``, which (``cuda.h``) "does not pop the
    context from the stack in any circumstances" — each close would leave a released context current.
    ``close`` therefore pops it again (``cuCtxPopCurrent``) when the driver's current context changed.
    """

    def __init__(self, index: int = 0) -> None:
        self.driver = import_driver()
        self.device = _device(self.driver, index)
        self.index = int(index)
        self._context = self.device.retain_primary_context()
        self._nesting = threading.local()  # depth of this thread's active() blocks

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """The context current on this thread for the block. Nested uses on one thread push and pop once,
        at the outermost (a frame's many launches and copies inside one ``active`` cost one pair)."""
        if self._context is None:
            raise RuntimeError("this CUDA context is closed (released)")
        depth = getattr(self._nesting, "depth", 0)
        if depth == 0:
            self._context.push()
        self._nesting.depth = depth + 1
        try:
            yield
        finally:
            self._nesting.depth = depth
            if depth == 0:
                self.driver.Context.pop()

    @property
    def is_open(self) -> bool:
        return self._context is not None

    def close(self) -> None:
        """Release the retained primary context (idempotent), leaving the thread's context stack as it was."""
        context, self._context = self._context, None
        if context is None:
            return
        stack = _driver_stack()
        before = _current(stack)
        context.detach()
        after = _current(stack)
        if before is not None and after is not None and after != before:
            stack.pop()  # the push pycuda's detach made and cuDevicePrimaryCtxRelease left behind

    def __enter__(self) -> "PrimaryContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _driver_stack() -> libcuda.ContextStack | None:
    """The driver-level context stack, or None where libcuda's context calls cannot be reached."""
    try:
        return libcuda.ContextStack()
    except OSError:
        return None


def _current(stack: libcuda.ContextStack | None) -> int | None:
    """The thread's current context handle, or None when the driver cannot say (then nothing is popped)."""
    if stack is None:
        return None
    try:
        return stack.current()
    except OSError:
        return None
