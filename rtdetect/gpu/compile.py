"""Compile one kernel source file for one GPU architecture with nvcc, through pycuda; cached per process.

The kernels ship as CUDA source (see ``sources.py``) and are compiled on the user's machine for exactly
its GPU (``sm_XY`` of the device) by the CUDA toolkit's nvcc, which pycuda drives. This needs nvcc at
run time but matches the user's driver and device without shipping binaries for every architecture and
CUDA version. ``compile_cubin`` is a pure function of its arguments and memoised, so each (source,
architecture) pair is compiled once per process; pycuda's on-disk compiler cache also spares the compile
across processes.
"""
from __future__ import annotations

import functools

from .errors import CudaUnavailableError, INSTALL_HINT

# Exactly the float maths of the NumPy references: no fused multiply-add, IEEE division and square root,
# denormals kept.
NVCC_OPTIONS = ("--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false", "-O3")


@functools.lru_cache(maxsize=None)
def compile_cubin(source_text: str, arch: str, include_dir: str) -> bytes:
    """The cubin of ``source_text`` (a kernels/*.cu file's text) for ``arch`` (e.g. ``"sm_86"``).

    ``include_dir`` is where ``common.cuh`` lives. Raises CudaUnavailableError when pycuda or nvcc is missing.
    """
    try:
        from pycuda import compiler
    except ImportError as exc:
        raise CudaUnavailableError(f"{INSTALL_HINT} ({exc})") from exc
    try:
        return compiler.compile(source_text, options=list(NVCC_OPTIONS), no_extern_c=True, arch=arch,
                                include_dirs=[include_dir])
    except OSError as exc:  # nvcc is not on PATH
        raise CudaUnavailableError(
            f"compiling rtdetect's CUDA kernels needs nvcc from the CUDA toolkit on PATH ({exc})") from exc
