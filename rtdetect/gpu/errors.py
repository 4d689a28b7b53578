"""The error raised when the GPU path is asked for on a machine that cannot run it, and the install hint.

One hint for the whole GPU path (kernels, TensorRT, CUDA graphs): which extra to install depends on the
CUDA generation of the NVIDIA driver, which ``rtdetect doctor`` reports.
"""
from __future__ import annotations

from ..errors import RtdetectError

INSTALL_HINT = ("pip install 'rtdetect[tensorrt-cu12]' (CUDA 12 driver) or 'rtdetect[tensorrt-cu13]' "
                "(CUDA 13 driver); `rtdetect doctor` tells which")


class CudaUnavailableError(RtdetectError):
    """pycuda, the NVIDIA driver, a CUDA device or nvcc is missing; the message says which and what to do.

    An ``RtdetectError``: the CLI prints it as one line, and ``--backend auto`` falls back to the CPU."""
