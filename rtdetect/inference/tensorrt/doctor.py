"""``rtdetect doctor``: the NVIDIA driver's CUDA version, TensorRT's build, whether they fit, and what else
the GPU path needs, one line each. Never raises; every check says what it found or what is missing.
"""
from __future__ import annotations

import importlib.metadata

from ...gpu import libcuda
from ...gpu.errors import INSTALL_HINT


def _driver_line() -> tuple[str, tuple[int, int] | None]:
    try:
        version = libcuda.driver_version()
    except OSError:
        return "NVIDIA driver: not installed (its library, libcuda, cannot be loaded)", None
    return f"NVIDIA driver: supports CUDA {version[0]}.{version[1]} (cuDriverGetVersion)", version


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _tensorrt_line() -> tuple[str, str | None, int | None]:
    from .deps import import_tensorrt, tensorrt_cuda_major
    from .errors import TensorRTUnavailable

    try:
        tensorrt = import_tensorrt()
    except TensorRTUnavailable:
        return "TensorRT: not installed", None, None
    major = tensorrt_cuda_major()
    build = f"built for CUDA {major}" if major else "CUDA build unknown (not a PyPI tensorrt-cu12/-cu13 install)"
    return f"TensorRT: {tensorrt.__version__}, {build}", str(tensorrt.__version__), major


def fit_line(driver: tuple[int, int] | None, trt_version: str | None, trt_cuda: int | None) -> str:
    """Whether a TensorRT built for CUDA ``trt_cuda`` runs on a driver supporting CUDA ``driver`` (a driver
    runs builds for its own CUDA major and older ones), and what to install when it does not."""
    if driver is None:
        return "fit: no NVIDIA driver, so no GPU path (rtdetect runs on the CPU)"
    extra = f"rtdetect[tensorrt-cu{driver[0]}]" if driver[0] in (12, 13) else None
    if trt_version is None:
        return f"fit: install pip install '{extra}'" if extra else f"fit: no TensorRT for this driver: {INSTALL_HINT}"
    if trt_cuda is None:
        return "fit: unknown (TensorRT's CUDA build is not recorded); `rtdetect build` will tell"
    if trt_cuda <= driver[0]:
        return f"fit: yes (TensorRT built for CUDA {trt_cuda} runs on a CUDA {driver[0]}.{driver[1]} driver)"
    advice = f"pip install '{extra}'" if extra else "update the NVIDIA driver"
    return (f"fit: NO: TensorRT {trt_version} is built for CUDA {trt_cuda}, the driver supports CUDA "
            f"{driver[0]}.{driver[1]} only: {advice} (or update the driver)")


def report() -> list[str]:
    """The lines of ``rtdetect doctor``."""
    from ...gpu.compile import compiler_problem
    from .readiness import gpu_path_problem

    driver_text, driver = _driver_line()
    trt_text, trt_version, trt_cuda = _tensorrt_line()
    pycuda = _package_version("pycuda")
    problem = gpu_path_problem()
    return [
        driver_text,
        trt_text,
        f"pycuda: {pycuda}" if pycuda else "pycuda: not installed",
        fit_line(driver, trt_version, trt_cuda),
        f"kernels: {compiler_problem() or 'prebuilt in the package, or compiled by nvcc at first use'}",
        "GPU path: ready (--backend auto uses TensorRT)" if problem is None
        else f"GPU path: not available, --backend auto runs on the CPU: {problem}",
    ]
