"""Whether the GPU path can run here, said in one line: what ``--backend auto`` checks before choosing it.

The GPU path needs, in this order: the ``tensorrt`` bindings, pycuda, an NVIDIA driver, a CUDA device, and
TensorRT able to start on them (``trt.Builder`` / ``trt.Runtime`` return nullptr, surfacing as a
``TypeError`` from pybind11, when TensorRT cannot initialise CUDA: no device, or a CUDA 13 build of TensorRT
on a CUDA 12 driver). Each check is cheap; none compiles or builds anything.
"""
from __future__ import annotations

from ...errors import RtdetectError


def gpu_path_problem(device: int = 0) -> str | None:
    """None when TensorRT and the GPU path can start on CUDA device ``device``; else what is missing
    (one line, the same text ``--backend tensorrt`` would fail with). Never raises."""
    from ...gpu.device import PrimaryContext
    from .deps import import_tensorrt

    try:
        import_tensorrt()
        with PrimaryContext(device):
            pass
    except RtdetectError as exc:
        return str(exc)
    return None


def cuda_device_available(device: int = 0) -> bool:
    """True when :func:`gpu_path_problem` finds nothing missing."""
    return gpu_path_problem(device) is None
