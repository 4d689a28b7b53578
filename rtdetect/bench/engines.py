"""Opening the engine of one benchmark configuration, or saying why it cannot be opened here."""
from __future__ import annotations

import importlib.util

from ..inference import create_engine, tensorrt_available

PRECISIONS = ("fp32", "fp16", "int8")
INT8_HOOK = "rtdetect.trt.quantize"


def _int8_reason() -> str | None:
    """None when the INT8 Q/DQ quantizer (issue 5) is importable, else why INT8 cannot run."""
    try:
        found = importlib.util.find_spec(INT8_HOOK) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return f"INT8 needs the Q/DQ ONNX quantizer ({INT8_HOOK}), which is not in this build"
    return None


def unavailable_reason(backend: str, precision: str) -> str | None:
    """Why ``backend`` x ``precision`` cannot run on this machine, or None when it should."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r} (choose {', '.join(PRECISIONS)})"
    if backend == "tensorrt" and not tensorrt_available():
        if importlib.util.find_spec("rtdetect.inference.tensorrt") is None:
            return "the TensorRT backend (rtdetect.inference.tensorrt) is not in this build"
        return "TensorRT, pycuda or a CUDA device is missing on this machine"
    if backend in ("onnxruntime", "auto") and precision == "fp16":
        return "fp16 on the CPU needs an fp16 ONNX export; ONNX Runtime's CPU provider runs fp32 kernels"
    if precision == "int8":
        return _int8_reason()
    return None


def open_engine(model_path: str, *, backend: str, precision: str, imgsz: tuple[int, int],
                threads: int | None = None):
    """``(engine, None)`` for a configuration that runs here, ``(None, reason)`` for one that does not.

    Errors caused by the configuration (a backend that cannot load, a missing library) become the
    reason; errors caused by the model file itself propagate as ``RtdetectError``.
    """
    reason = unavailable_reason(backend, precision)
    if reason is not None:
        return None, reason
    options = {"threads": threads} if threads else {}
    if backend == "tensorrt":
        options["precision"] = precision
    try:
        return create_engine(model_path, backend=backend, imgsz=imgsz, **options), None
    except (ImportError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
