"""The CUDA device: its facts (for the engine cache key) and its primary context.

pycuda beside torch (or any other CUDA user) fights over contexts when each creates its own
(TensorRT issue #2357). rtdetect never creates a context and never uses ``pycuda.autoinit``: it retains
the device's *primary* context (``Device.retain_primary_context``, the one the CUDA runtime, torch and
TensorRT use) and makes it current only around its own work (``Context.push`` / ``Context.pop``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

from .deps import import_cuda_driver, import_tensorrt
from .errors import TensorRTUnavailable


@dataclass(frozen=True)
class DeviceInfo:
    """index: CUDA ordinal; name: e.g. "NVIDIA GeForce RTX 4090" or "Orin"; compute_capability: (8, 9);
    integrated: True on Jetson (CPU and GPU share memory)."""

    index: int
    name: str
    compute_capability: tuple[int, int]
    integrated: bool = False

    @property
    def sm(self) -> str:
        return f"sm_{self.compute_capability[0]}{self.compute_capability[1]}"


def cuda_device_available() -> bool:
    """True when tensorrt and pycuda import and the driver reports at least one CUDA device.

    Never raises: any missing piece (package, libnvinfer, libcuda, driver, device) is simply False.
    """
    try:
        import_tensorrt()
        cuda = import_cuda_driver()
    except TensorRTUnavailable:
        return False
    try:
        return cuda.Device.count() > 0
    except cuda.Error:
        return False


def query_device(index: int = 0) -> DeviceInfo:
    """Facts about CUDA device ``index``; TensorRTUnavailable when there is no such device."""
    cuda = import_cuda_driver()
    count = cuda.Device.count()
    if not 0 <= index < count:
        raise TensorRTUnavailable(f"no CUDA device {index} (found {count})")
    device = cuda.Device(index)
    major, minor = device.compute_capability()
    integrated = bool(device.get_attribute(cuda.device_attribute.INTEGRATED))
    return DeviceInfo(index, device.name(), (int(major), int(minor)), integrated)


class PrimaryContext:
    """The primary context of one device, retained for this object's lifetime.

    ``with ctx.active():`` makes it current on the calling thread and pops it afterwards (it may be entered
    from any thread, and nested). ``close()`` releases the retain; use the object as a context manager.
    """

    def __init__(self, index: int = 0) -> None:
        self._cuda = import_cuda_driver()
        self.device = self._cuda.Device(index)
        self._context = self.device.retain_primary_context()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        if self._context is None:
            raise RuntimeError("CUDA context already released")
        self._context.push()
        try:
            yield
        finally:
            self._context.pop()

    @property
    def is_open(self) -> bool:
        return self._context is not None

    def close(self) -> None:
        """Release the retained primary context (idempotent)."""
        context, self._context = self._context, None
        if context is not None:
            context.detach()

    def __enter__(self) -> "PrimaryContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
