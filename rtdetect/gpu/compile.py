"""What the driver loads for a kernel source file: the prebuilt fatbin, else a cubin compiled with nvcc.

Users never need the CUDA toolkit: the wheel carries fatbins (``fatbin.py``: cubins for sm_75/86/87/89/90
plus PTX for newer GPUs). A source checkout without them (or whose sources changed since they were built),
and GPUs they do not cover (sm_80, sm_72), compile with the toolkit's nvcc through pycuda instead;
``compile_cubin`` is memoised, so each (source, architecture) pair is compiled once per process.
"""
from __future__ import annotations

import functools
import shutil

from . import fatbin
from .errors import CudaUnavailableError, INSTALL_HINT
from .sources import kernel_source, kernels_dir

NVCC_OPTIONS = fatbin.NVCC_OPTIONS
NVCC_MISSING = "compiling rtdetect's CUDA kernels needs nvcc from the CUDA toolkit on PATH"


def compiler_problem() -> str | None:
    """Why the kernels can be neither loaded prebuilt nor compiled here, or None. Cheap: runs nothing."""
    if shutil.which("nvcc"):
        return None
    kdir = kernels_dir()
    if all(fatbin.find_fatbin(name, kdir) for name in fatbin.SOURCE_FILES):
        return None
    return (f"rtdetect's prebuilt CUDA kernels are missing (looked in {fatbin.PACKAGE_DIR}) and nvcc is not on "
            f"PATH to compile them: install rtdetect from its wheel, or put the CUDA toolkit's nvcc on PATH")


def kernel_image(filename: str, capability: tuple[int, int]) -> bytes:
    """The module image of kernel source ``filename`` (e.g. ``"nms.cu"``) for a GPU of compute capability
    ``capability``: the prebuilt fatbin when there is one built from exactly these sources and it covers
    this GPU, else a cubin from nvcc. CudaUnavailableError, one line naming what is missing, when neither."""
    major, minor = (int(v) for v in capability)
    kdir = kernels_dir()
    covered = fatbin.arch_is_covered(major, minor)
    prebuilt = fatbin.find_fatbin(filename, kdir) if covered else None
    if prebuilt is not None:
        return prebuilt.read_bytes()
    if shutil.which("nvcc") is None:
        why = (f"rtdetect's prebuilt CUDA kernels do not cover sm_{major}{minor} (they hold "
               f"sm_{', sm_'.join(fatbin.ARCHITECTURES)} and PTX for newer GPUs)" if not covered else
               f"rtdetect's prebuilt CUDA kernels are missing (no fatbin of {filename} built from these "
               f"sources in {fatbin.PACKAGE_DIR} or the checkout's build/kernels-fatbin)")
        raise CudaUnavailableError(f"{why}, and nvcc (CUDA toolkit) is not on PATH to compile them: install "
                                   f"rtdetect from its wheel, or put nvcc on PATH")
    return compile_cubin(kernel_source(filename), f"sm_{major}{minor}", str(kdir))


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
