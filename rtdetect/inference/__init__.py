"""Inference backends behind one ``Engine`` protocol. Backends import their libraries lazily."""
from __future__ import annotations

from ..errors import ModelError
from .base import Engine

BACKENDS = ("auto", "onnxruntime", "tensorrt")


def tensorrt_available() -> bool:
    """True when TensorRT, pycuda and a CUDA device are all usable here."""
    try:
        from .tensorrt import cuda_device_available
    except ImportError:
        return False
    return cuda_device_available()


def create_engine(model_path: str, *, backend: str = "auto", imgsz: tuple[int, int] = (640, 640), **options) -> Engine:
    """Load ``model_path`` (an ONNX file) on ``backend``; ``auto`` picks TensorRT when it and a GPU are present."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "tensorrt" or (backend == "auto" and tensorrt_available()):
        from .tensorrt import TensorRTEngine

        return TensorRTEngine(model_path, imgsz=imgsz, **options)
    from .onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model_path, imgsz=imgsz, **{k: v for k, v in options.items() if k == "threads"})


__all__ = ["BACKENDS", "Engine", "create_engine", "tensorrt_available"]
