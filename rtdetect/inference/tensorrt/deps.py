"""TensorRT imported lazily, started safely, and described: what to install when it is missing, what is
wrong when it cannot start, and which CUDA generation this build of it needs.

``tensorrt`` (with ``pycuda``) is the extra ``rtdetect[tensorrt-cu12]`` / ``rtdetect[tensorrt-cu13]``; the
base install never imports it. pycuda is imported through :func:`rtdetect.gpu.device.import_driver`.

``trt.Builder(logger)`` and ``trt.Runtime(logger)`` raise pybind11's ``TypeError: ... factory function
returned nullptr`` when TensorRT cannot initialise CUDA (no usable device, or a driver older than the CUDA
this TensorRT was built for); :func:`create_builder` / :func:`create_runtime` say that in one line.
"""
from __future__ import annotations

import importlib.metadata

from ...gpu.errors import INSTALL_HINT
from .errors import TensorRTUnavailable

# PyPI distributions of the TensorRT Python bindings, by the CUDA major they are built for. JetPack's
# apt packages (python3-libnvinfer) install no distribution metadata: the build is then unknown.
BINDINGS = (("tensorrt_cu13_bindings", 13), ("tensorrt_cu12_bindings", 12), ("tensorrt_cu11_bindings", 11))


def import_tensorrt():
    """The ``tensorrt`` module; raises TensorRTUnavailable when it cannot be imported."""
    try:
        import tensorrt
    except ImportError as exc:  # absent, or present but its libnvinfer is missing
        raise TensorRTUnavailable(f"TensorRT is not available ({exc}): {INSTALL_HINT}") from None
    return tensorrt


def tensorrt_cuda_major() -> int | None:
    """The CUDA major version the installed TensorRT bindings were built for (from the PyPI distribution:
    ``tensorrt-cu12`` / ``tensorrt-cu13``), or None when that is not known (e.g. JetPack's packages)."""
    for name, major in BINDINGS:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return major
    return None


def start_problem(trt) -> str:
    """Why TensorRT could not initialise CUDA here, in the user's terms (for the nullptr ``TypeError``)."""
    from ...gpu import libcuda

    built_for = tensorrt_cuda_major()
    build = f"TensorRT {trt.__version__}" + (f" (built for CUDA {built_for})" if built_for else "")
    try:
        major, minor = libcuda.driver_version()
    except OSError:
        return f"{build} cannot start: the NVIDIA driver is not installed"
    if built_for is not None and major < built_for:
        fitting = f"rtdetect[tensorrt-cu{major}]" if major in (12, 13) else "a TensorRT built for it"
        return (f"{build} cannot start: the NVIDIA driver supports CUDA {major}.{minor} only; update the "
                f"driver or pip install '{fitting}'")
    return (f"{build} cannot start on this machine (it could not initialise CUDA: no usable GPU, or a driver "
            f"too old for this build; the driver supports CUDA {major}.{minor}); see `rtdetect doctor`")


def create_builder(trt, logger):
    """``trt.Builder(logger)``; TensorRTUnavailable saying why when TensorRT cannot start here."""
    try:
        return trt.Builder(logger)
    except TypeError:  # pybind11: "factory function returned nullptr"
        raise TensorRTUnavailable(start_problem(trt)) from None


def create_runtime(trt, logger):
    """``trt.Runtime(logger)``; TensorRTUnavailable saying why when TensorRT cannot start here."""
    try:
        return trt.Runtime(logger)
    except TypeError:  # pybind11: "factory function returned nullptr"
        raise TensorRTUnavailable(start_problem(trt)) from None
