"""Whether the GPU path can run here, said in one line: what ``--backend auto`` checks before choosing it.

The GPU path needs, in this order: the ``tensorrt`` bindings, pycuda, an NVIDIA driver, a CUDA device,
TensorRT able to start on them (``trt.Runtime`` returns nullptr, surfacing as pybind11's ``TypeError``, when
TensorRT cannot initialise CUDA: no device, or a CUDA 13 build of TensorRT on a CUDA 12 driver), and a
way to load rtdetect's kernels (the wheel's prebuilt fatbins, else nvcc on PATH). Each check is cheap; none compiles or builds anything.
"""
from __future__ import annotations

from ...errors import RtdetectError


def gpu_path_problem(device: int = 0) -> str | None:
    """None when TensorRT and rtdetect's GPU path can start on CUDA device ``device``; else what is
    missing, in one line (the text ``--backend tensorrt`` would fail with). Never raises."""
    from ...gpu.compile import compiler_problem
    from ...gpu.device import PrimaryContext
    from .deps import create_runtime, import_tensorrt

    try:
        trt = import_tensorrt()
        with PrimaryContext(device) as context, context.active():
            create_runtime(trt, trt.Logger(trt.Logger.ERROR))
    except RtdetectError as exc:
        return str(exc)
    return compiler_problem()


def cuda_device_available(device: int = 0) -> bool:
    """True when :func:`gpu_path_problem` finds nothing missing."""
    return gpu_path_problem(device) is None
