"""The lazy import of TensorRT, with the message that tells the user what to install.

``tensorrt`` (with ``pycuda``) is the extra ``rtdetect[tensorrt-cu12]`` / ``rtdetect[tensorrt-cu13]``;
the base install never imports it. pycuda is imported through :func:`rtdetect.gpu.device.import_driver`.
"""
from __future__ import annotations

from ...gpu.errors import INSTALL_HINT
from .errors import TensorRTUnavailable


def import_tensorrt():
    """The ``tensorrt`` module; raises TensorRTUnavailable when it cannot be imported."""
    try:
        import tensorrt
    except ImportError as exc:  # absent, or present but its libnvinfer is missing
        raise TensorRTUnavailable(f"TensorRT is not available ({exc}): {INSTALL_HINT}") from None
    return tensorrt
