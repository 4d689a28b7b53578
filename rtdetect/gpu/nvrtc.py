"""NVRTC, CUDA's run-time compiler, through ctypes: rtdetect's kernel sources to a cubin with no toolkit.

The library comes from NVIDIA's PyPI wheels, a dependency of the tensorrt extras: ``nvidia-cuda-nvrtc-cu12``
(``nvidia/cuda_nvrtc/lib/libnvrtc.so.12``) and ``nvidia-cuda-nvrtc`` 13 (``nvidia/cu13/lib/libnvrtc.so.13``),
else a system ``libnvrtc.so``. A cubin it builds loads on a driver of its CUDA major or newer. The options
are nvcc's (``fatbin.NVCC_OPTIONS``: float maths as NumPy's) less ``-O3`` (NVRTC optimises by default), and
``RT_NO_FP16_HEADER``: ``common.cuh`` then defines ``__half`` itself, since the wheels carry no
``cuda_fp16.h``.
"""
from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

from . import fatbin

# (folder under site-packages, file) of the NVRTC wheels, newest CUDA first; then the system's.
WHEEL_LIBRARIES = (("nvidia/cu13/lib", "libnvrtc.so.13"), ("nvidia/cuda_nvrtc/lib", "libnvrtc.so.12"))
SYSTEM_LIBRARIES = ("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so")
OPTIONS = tuple(o for o in fatbin.NVCC_OPTIONS if o != "-O3") + ("-DRT_NO_FP16_HEADER",)


class NvrtcError(RuntimeError):
    """NVRTC refused: its first error line (a compile error, an architecture it does not know)."""


def library_candidates() -> list[str]:
    """Every NVRTC library to try, in order: the wheels' on sys.path, then the system's by name."""
    found = []
    for entry in sys.path:
        for folder, name in WHEEL_LIBRARIES:
            path = Path(entry or ".") / folder / name
            if path.is_file():
                found.append(str(path))
    return found + list(SYSTEM_LIBRARIES)


@functools.lru_cache(maxsize=1)
def load() -> Nvrtc | None:
    """The first NVRTC that loads (once per process), or None when there is none. A wheel's ``libnvrtc-builtins`` (which
    NVRTC opens by name at compile time, and which is not on the loader's path) is loaded first."""
    for candidate in library_candidates():
        try:
            for builtins in sorted(Path(candidate).parent.glob("libnvrtc-builtins.so.*")) if "/" in candidate else []:
                if ".alt." not in builtins.name:
                    ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
            return Nvrtc(ctypes.CDLL(candidate))
        except OSError:
            continue
    return None


class Nvrtc:
    """One loaded NVRTC library: its version and cubins compiled by it."""

    def __init__(self, library) -> None:
        self._lib = lib = library
        for name, args in (("nvrtcVersion", [ctypes.POINTER(ctypes.c_int)] * 2),
                           ("nvrtcCreateProgram", [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_char_p,
                                                   ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]),
                           ("nvrtcCompileProgram", [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]),
                           ("nvrtcGetCUBINSize", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
                           ("nvrtcGetCUBIN", [ctypes.c_void_p, ctypes.c_char_p]),
                           ("nvrtcGetProgramLogSize", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
                           ("nvrtcGetProgramLog", [ctypes.c_void_p, ctypes.c_char_p]),
                           ("nvrtcDestroyProgram", [ctypes.POINTER(ctypes.c_void_p)]),
                           ("nvrtcGetNumSupportedArchs", [ctypes.POINTER(ctypes.c_int)]),
                           ("nvrtcGetSupportedArchs", [ctypes.POINTER(ctypes.c_int)])):
            function = getattr(lib, name)
            function.argtypes, function.restype = args, ctypes.c_int
        lib.nvrtcGetErrorString.argtypes, lib.nvrtcGetErrorString.restype = [ctypes.c_int], ctypes.c_char_p

    def version(self) -> tuple[int, int]:
        """(major, minor) CUDA release of this NVRTC."""
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self._lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        return major.value, minor.value

    def architectures(self) -> list[int]:
        """The sm architectures this NVRTC compiles cubins for, e.g. [75, 80, ..., 120]."""
        count = ctypes.c_int()
        self._check(self._lib.nvrtcGetNumSupportedArchs(ctypes.byref(count)), "nvrtcGetNumSupportedArchs")
        archs = (ctypes.c_int * count.value)()
        self._check(self._lib.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs")
        return list(archs)

    def compile_cubin(self, source: str, name: str, arch: str, include_dir: str) -> bytes:
        """The cubin of ``source`` (a kernels/*.cu text, ``name`` for messages) for ``arch`` (e.g. "sm_80");
        ``include_dir`` holds ``common.cuh``. NvrtcError with NVRTC's first error line when it refuses."""
        lib, program = self._lib, ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(), 0, None, None),
                    "nvrtcCreateProgram")
        try:
            options = [f"--gpu-architecture={arch}", f"--include-path={include_dir}", *OPTIONS]
            array = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
            status = lib.nvrtcCompileProgram(program, len(options), array)
            if status != 0:
                raise NvrtcError(f"NVRTC {'.'.join(map(str, self.version()))} failed to compile {name} for {arch}: "
                                 f"{self._first_error(program) or self._error(status)}")
            size = ctypes.c_size_t()
            self._check(lib.nvrtcGetCUBINSize(program, ctypes.byref(size)), "nvrtcGetCUBINSize")
            cubin = ctypes.create_string_buffer(size.value)
            self._check(lib.nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN")
            return cubin.raw
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(program))

    def _first_error(self, program) -> str:
        size = ctypes.c_size_t()
        if self._lib.nvrtcGetProgramLogSize(program, ctypes.byref(size)) != 0 or size.value <= 1:
            return ""
        log = ctypes.create_string_buffer(size.value)
        self._lib.nvrtcGetProgramLog(program, log)
        lines = [line.strip() for line in log.value.decode(errors="replace").splitlines() if line.strip()]
        return next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")

    def _error(self, status: int) -> str:
        return self._lib.nvrtcGetErrorString(status).decode()

    def _check(self, status: int, call: str) -> None:
        if status != 0:
            raise NvrtcError(f"{call} failed: {self._error(status)}")
