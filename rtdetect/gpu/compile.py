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
import shutil

from .errors import CudaUnavailableError, INSTALL_HINT

# Exactly the float maths of the NumPy references: no fused multiply-add, IEEE division and square root,
# denormals kept.
NVCC_OPTIONS = ("--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false", "-O3")
NVCC_MISSING = "compiling rtdetect's CUDA kernels needs nvcc from the CUDA toolkit on PATH"


def compiler_problem() -> str | None:
    """Why the kernels cannot be compiled here (nvcc not on PATH), or None. Cheap: runs nothing."""
    return None if shutil.which("nvcc") else f"{NVCC_MISSING} (not found)"


@functools.lru_cache(maxsize=None)
def compile_cubin(source_text: str, arch: str, include_dir: str) -> bytes:
    """The cubin of ``source_text`` (a kernels/*.cu file's text) for ``arch`` (e.g. ``"sm_86"``).

    ``include_dir`` is where ``common.cuh`` lives. Raises CudaUnavailableError, one line, when pycuda or
    nvcc is missing or nvcc refuses (e.g. nvcc 13 has no ``sm_72``, Jetson Xavier).
    """
    try:
        from pycuda import compiler
        from pycuda.driver import CompileError
    except ImportError as exc:
        raise CudaUnavailableError(f"compiling rtdetect's CUDA kernels needs pycuda ({exc}): {INSTALL_HINT}") from None
    try:
        return compiler.compile(source_text, options=list(NVCC_OPTIONS), no_extern_c=True, arch=arch,
                                include_dirs=[include_dir])
    except OSError as exc:  # nvcc is not on PATH
        raise CudaUnavailableError(f"{NVCC_MISSING} ({exc})") from None
    except CompileError as exc:
        raise CudaUnavailableError(_compile_failure(exc, arch)) from None


def _compile_failure(exc, arch: str) -> str:
    """One line for a failed nvcc run: its first error line, and what to do about an unsupported GPU."""
    output = "\n".join(str(part) for part in (getattr(exc, "stderr", None), getattr(exc, "stdout", None)) if part)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    first = next((line for line in lines if "error" in line.lower() or "fatal" in line.lower()),
                 lines[0] if lines else getattr(exc, "msg", str(exc)).splitlines()[0])
    if "nsupported gpu architecture" in output:
        return (f"this nvcc cannot compile for {arch} ({first}): install a CUDA toolkit that supports this "
                f"GPU (CUDA 13 dropped sm_72, Jetson Xavier; JetPack 5 ships CUDA 11.4)")
    return f"nvcc failed to compile rtdetect's CUDA kernels for {arch}: {first}"
