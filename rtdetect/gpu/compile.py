"""What the driver loads for a kernel source file: the prebuilt fatbin, else a cubin compiled at first use.

Users never need the CUDA toolkit where the wheel's fatbins (``fatbin.py``) cover their GPU and driver:
cubins for sm_75 to sm_120 and PTX for anything newer, built by one CUDA release. Which is decided from
the fatbins' manifest, before anything is loaded or an engine is built (``compiler_problem``). A source
checkout without fatbins (or whose sources changed since they were built), and GPUs or drivers they do
not cover, compile the shipped sources: with NVRTC (``nvrtc.py``, from the ``nvidia-cuda-nvrtc`` wheel of
the tensorrt extras) when its CUDA major is the driver's or older and it knows the GPU's architecture,
else with the toolkit's nvcc through pycuda. Compiling is memoised, so each (source, architecture) pair is
compiled once per process.
"""
from __future__ import annotations

import functools
import shutil
from pathlib import Path

from . import fatbin, nvrtc
from .errors import CudaUnavailableError, INSTALL_HINT
from .sources import kernel_source, kernels_dir

NVCC_OPTIONS = fatbin.NVCC_OPTIONS
NVCC_MISSING = "compiling rtdetect's CUDA kernels needs nvcc from the CUDA toolkit on PATH"


def _sources() -> Path | None:
    """The kernel sources' directory, or None for an install without them (the fatbins then stand alone)."""
    try:
        return kernels_dir()
    except FileNotFoundError:
        return None


def prebuilt_problem(filename: str, capability: tuple[int, int] | None = None,
                     driver: tuple[int, int] | None = None) -> tuple[str | None, Path | None]:
    """(why the prebuilt fatbin of ``filename`` cannot serve a GPU of ``capability`` under a driver
    supporting CUDA ``driver``, or None; the fatbin's path when one was found). ``capability`` None: only
    whether a current fatbin exists; ``driver`` None: assumed new enough."""
    found = fatbin.find_build(filename, _sources())
    if found is None:
        return (f"rtdetect's prebuilt CUDA kernels are missing (no fatbin of {filename} built from these sources "
                f"in {fatbin.PACKAGE_DIR} or the checkout's build/kernels-fatbin)"), None
    path, built = found
    return (None if capability is None else fatbin.coverage_problem(built, capability, driver)), path


def compiler_problem(capability: tuple[int, int] | None = None, driver: tuple[int, int] | None = None) -> str | None:
    """Why the kernels can be neither loaded prebuilt nor compiled for a GPU of compute ``capability``
    under a driver supporting CUDA ``driver`` (both as the device reports them; None: not known, then only
    the fatbins' presence counts), or None. Cheap: reads the fatbins' manifest, runs nothing."""
    problems = [prebuilt_problem(name, capability, driver)[0] for name in fatbin.SOURCE_FILES]
    problem = next((p for p in problems if p is not None), None)
    if problem is None or _sources() is not None and (shutil.which("nvcc") or usable_nvrtc(capability, driver)):
        return None
    return _cannot_compile(problem, capability, driver)


def usable_nvrtc(capability: tuple[int, int] | None, driver: tuple[int, int] | None):
    """The NVRTC that can compile for a GPU of ``capability`` whose cubins this driver loads (its CUDA
    major no newer than the driver's), or None. ``capability`` None: any NVRTC that loads."""
    compiler = nvrtc.load()
    if compiler is None:
        return None
    if driver is not None and compiler.version()[0] > driver[0]:
        return None
    if capability is not None and capability[0] * 10 + capability[1] not in compiler.architectures():
        return None
    return compiler


def _cannot_compile(problem: str, capability: tuple[int, int] | None, driver: tuple[int, int] | None) -> str:
    """One line: the prebuilt ``problem``, that nothing here can compile instead, and what to install."""
    compiler = nvrtc.load()
    if compiler is None:
        nvrtc_state = "no NVRTC"
    else:
        version = ".".join(map(str, compiler.version()))
        nvrtc_state = (f"NVRTC {version} is newer than the driver" if driver and compiler.version()[0] > driver[0]
                       else f"NVRTC {version} does not know this GPU")
    if driver is not None and driver[0] == 12:
        remedy = "pip install 'rtdetect[tensorrt-cu12]' (it brings NVRTC for CUDA 12), or update the NVIDIA driver"
    else:
        remedy = "pip install 'rtdetect[tensorrt-cu13]' (it brings NVRTC), or update the NVIDIA driver"
    if _sources() is None:
        return f"{problem}, and the kernel sources to compile them are not installed: reinstall rtdetect"
    return f"{problem}; {nvrtc_state} and no nvcc (CUDA toolkit) on PATH to compile them: {remedy}"


def kernel_image(filename: str, capability: tuple[int, int], driver: tuple[int, int] | None = None) -> bytes:
    """The module image of kernel source ``filename`` (e.g. ``"nms.cu"``) for a GPU of compute capability
    ``capability`` under a driver supporting CUDA ``driver`` (None: assumed new enough): the prebuilt
    fatbin when there is one built from exactly these sources that covers both, else a cubin from nvcc.
    CudaUnavailableError, one line naming the GPU, the driver and what to do, when neither."""
    major, minor = (int(v) for v in capability)
    problem, path = prebuilt_problem(filename, (major, minor), driver)
    if problem is None:
        return path.read_bytes()
    kdir = _sources()
    if kdir is not None and usable_nvrtc((major, minor), driver) is not None:
        return compile_with_nvrtc(kernel_source(filename), filename, f"sm_{major}{minor}", str(kdir))
    if shutil.which("nvcc") is None or kdir is None:
        raise CudaUnavailableError(_cannot_compile(problem, (major, minor), driver))
    return compile_cubin(kernel_source(filename), f"sm_{major}{minor}", str(kdir))


@functools.lru_cache(maxsize=None)
def compile_with_nvrtc(source_text: str, filename: str, arch: str, include_dir: str) -> bytes:
    """The cubin of ``source_text`` for ``arch`` by NVRTC; CudaUnavailableError, one line, when it refuses."""
    try:
        return nvrtc.load().compile_cubin(source_text, filename, arch, include_dir)
    except nvrtc.NvrtcError as exc:
        raise CudaUnavailableError(str(exc)) from None


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
