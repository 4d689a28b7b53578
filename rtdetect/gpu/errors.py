"""The error raised when the GPU path is asked for on a machine that cannot run it."""
from __future__ import annotations

INSTALL_HINT = "the GPU path needs pycuda and an NVIDIA driver: pip install 'rtdetect[tensorrt]'"


class CudaUnavailableError(RuntimeError):
    """pycuda, the NVIDIA driver, a CUDA device or nvcc is missing; the message says which and what to do."""
