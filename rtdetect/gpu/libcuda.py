"""The CUDA driver library (``libcuda``) itself, called with ctypes where pycuda has no call for the job.

* ``driver_version()``: ``cuDriverGetVersion(int*)``, the newest CUDA the installed driver supports, as
  ``1000 * major + 10 * minor`` (CUDA 12.4 is 12040); needs no ``cuInit`` and no pycuda, so
  ``rtdetect doctor`` can report it on a machine where nothing else of the GPU path works.
* ``ContextStack``: ``cuCtxGetCurrent(CUcontext*)`` and ``cuCtxPopCurrent_v2(CUcontext*)`` (what
  ``cuCtxPopCurrent`` is in ``cuda.h`` since CUDA 4.0), to undo the push that pycuda's ``detach`` of a
  primary context leaves behind (see :class:`rtdetect.gpu.device.PrimaryContext`).
* ``load()``: the library, shared with the CUDA graph calls (:mod:`rtdetect.gpu.cuda_graphs`).

Out-parameters are passed as ``ctypes.pointer`` objects (not ``byref``) so that a test fake written in
Python can fill them.
"""
from __future__ import annotations

import ctypes
import sys

_LIBRARIES = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")


def load():
    """The CUDA driver library; OSError (naming every file tried) when the NVIDIA driver is not installed."""
    errors = []
    for name in _LIBRARIES:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            errors.append(str(exc))
    raise OSError(f"the CUDA driver library is not loadable ({'; '.join(errors)})")


def entry(library, name: str, *argtypes):
    """``library.name`` declared as ``CUresult name(argtypes...)``; OSError when the driver lacks it."""
    try:
        function = getattr(library, name)
    except AttributeError:
        raise OSError(f"the CUDA driver has no {name} (too old for rtdetect)") from None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


def driver_version(library=None) -> tuple[int, int]:
    """(major, minor) of the newest CUDA the driver supports, e.g. (12, 4); OSError without a driver."""
    lib = library if library is not None else load()
    get_version = entry(lib, "cuDriverGetVersion", ctypes.POINTER(ctypes.c_int))
    value = ctypes.c_int(0)
    status = get_version(ctypes.pointer(value))
    if status != 0:
        raise OSError(f"cuDriverGetVersion failed with CUDA error {status}")
    return value.value // 1000, (value.value % 1000) // 10


class ContextStack:
    """The calling thread's CUDA context stack as the driver sees it (pycuda keeps a stack of its own)."""

    def __init__(self, library=None) -> None:
        lib = library if library is not None else load()
        out = ctypes.POINTER(ctypes.c_void_p)
        self._get_current = entry(lib, "cuCtxGetCurrent", out)
        self._pop_current = entry(lib, "cuCtxPopCurrent_v2", out)

    def current(self) -> int:
        """The handle of the thread's current context, 0 when there is none."""
        handle = ctypes.c_void_p()
        status = self._get_current(ctypes.pointer(handle))
        if status != 0:
            raise OSError(f"cuCtxGetCurrent failed with CUDA error {status}")
        return int(handle.value or 0)

    def pop(self) -> int:
        """Pop the thread's current context; returns its handle."""
        handle = ctypes.c_void_p()
        status = self._pop_current(ctypes.pointer(handle))
        if status != 0:
            raise OSError(f"cuCtxPopCurrent failed with CUDA error {status}")
        return int(handle.value or 0)
