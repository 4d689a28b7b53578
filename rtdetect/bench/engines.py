"""Opening the engine of one benchmark configuration, or saying why it cannot be opened here."""
from __future__ import annotations

import importlib.util

from ..inference import create_engine

PRECISIONS = ("fp32", "fp16", "int8")
INT8_HOOK = "rtdetect.inference.onnx_tools.quantize"


def unavailable_reason(backend: str, precision: str) -> str | None:
    """Why ``backend`` x ``precision`` cannot run on this machine, or None when it should."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r} (choose {', '.join(PRECISIONS)})"
    if backend == "tensorrt":
        from ..inference.tensorrt.readiness import gpu_path_problem

        problem = gpu_path_problem()
        if problem is not None:
            return problem
    if backend in ("onnxruntime", "auto") and precision == "fp16":
        return "fp16 on the CPU needs an fp16 ONNX export; ONNX Runtime's CPU provider runs fp32 kernels"
    if backend in ("onnxruntime", "auto") and precision == "int8" and importlib.util.find_spec(INT8_HOOK) is None:
        return f"INT8 needs the Q/DQ ONNX quantizer ({INT8_HOOK}), which is not in this build"
    return None


def open_engine(model_path: str, *, backend: str, precision: str, imgsz: tuple[int, int],
                threads: int | None = None, calib_source: str | None = None, calib_frames: int = 200):
    """``(engine, None)`` for a configuration that runs here, ``(None, reason)`` for one that does not.

    INT8 on ONNX Runtime runs the cached Q/DQ ONNX of ``int8.int8_model`` calibrated on ``calib_frames``
    frames of ``calib_source``; TensorRT gets the precision (and calibration source) as build options.
    Errors caused by the configuration (a missing library) become the reason; errors caused by the model
    file itself propagate as ``RtdetectError``.
    """
    reason = unavailable_reason(backend, precision)
    if reason is not None:
        return None, reason
    options = {"threads": threads} if threads else {}
    if backend == "tensorrt":
        options = {"precision": precision}
        if precision == "int8":
            options.update(calib_source=calib_source, calib_frames=calib_frames)
    elif precision == "int8":
        from .int8 import int8_model

        model_path = str(int8_model(model_path, calib_source=calib_source, frames=calib_frames, imgsz=imgsz))
    try:
        return create_engine(model_path, backend=backend, imgsz=imgsz, **options), None
    except (ImportError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
