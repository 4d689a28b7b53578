"""Whether the GPU path can run here, said in one line: what ``--backend auto`` checks before choosing it.

The GPU path needs, in this order: the ``tensorrt`` bindings, pycuda, an NVIDIA driver, a CUDA device,
TensorRT able to start on them (``trt.Runtime`` returns nullptr, surfacing as pybind11's ``TypeError``, when
TensorRT cannot initialise CUDA: no device, or a CUDA 13 build of TensorRT on a CUDA 12 driver), and a
way to load rtdetect's kernels for this GPU's architecture under this driver (the wheel's prebuilt
fatbins when their cubins or PTX cover both, else nvcc on PATH). Each check is cheap; none compiles or
builds anything, so ``--backend auto`` decides before any engine build.
"""
from __future__ import annotations

from ...errors import RtdetectError


def gpu_path_problem(device: int = 0) -> str | None:
    """None when TensorRT and rtdetect's GPU path can start on CUDA device ``device``; else what is
    missing, in one line (the text ``--backend tensorrt`` would fail with). Never raises."""
    from ...gpu.compile import compiler_problem
    from ...gpu.cuda_runtime import driver_cuda_version
    from ...gpu.device import PrimaryContext
    from .deps import create_runtime, import_tensorrt

    try:
        trt = import_tensorrt()
        with PrimaryContext(device) as context, context.active():
            create_runtime(trt, trt.Logger(trt.Logger.ERROR))
            capability = tuple(int(v) for v in context.device.compute_capability())
            name = context.device.name()
    except RtdetectError as exc:
        return str(exc)
    driver = driver_cuda_version()
    problem = compiler_problem(capability, driver)
    if problem is None:
        return None
    driver_text = "unknown" if driver is None else f"{driver[0]}.{driver[1]}"
    return f"{name} (sm_{capability[0]}{capability[1]}, driver CUDA {driver_text}): {problem}"


def cuda_device_available(device: int = 0) -> bool:
    """True when :func:`gpu_path_problem` finds nothing missing."""
    return gpu_path_problem(device) is None
