"""Lazy imports of the optional dependencies, with the message that tells the user what to install.

``tensorrt`` and ``pycuda`` are the extra ``rtdetect[tensorrt]``; the base install never imports them.
``pycuda.autoinit`` is never used: contexts are managed explicitly (see :mod:`rtdetect.trt.device`).
"""
from __future__ import annotations

from .errors import INSTALL_HINT, TensorRTUnavailable


def import_tensorrt():
    """The ``tensorrt`` module; raises TensorRTUnavailable when it cannot be imported."""
    try:
        import tensorrt
    except ImportError as exc:  # absent, or present but its libnvinfer is missing
        raise TensorRTUnavailable(f"TensorRT is not available ({exc}): {INSTALL_HINT}") from None
    return tensorrt


def import_cuda_driver():
    """``pycuda.driver``, initialised (``cuInit``); raises TensorRTUnavailable without pycuda or a driver."""
    try:
        import pycuda.driver as cuda
    except ImportError as exc:  # absent, or libcuda.so missing (no NVIDIA driver)
        raise TensorRTUnavailable(f"pycuda is not available ({exc}): {INSTALL_HINT}") from None
    try:
        cuda.init()
    except cuda.Error as exc:
        raise TensorRTUnavailable(f"the CUDA driver cannot be initialised: {exc}") from None
    return cuda
