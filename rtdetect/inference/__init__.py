"""Inference backends behind one ``Engine`` protocol. Backends import their libraries lazily."""
from __future__ import annotations

from ..errors import ModelError
from ..notes import note
from .base import Engine

BACKENDS = ("auto", "onnxruntime", "tensorrt")


def tensorrt_available() -> bool:
    """True when TensorRT, pycuda, the NVIDIA driver and a CUDA device are all usable here."""
    from .tensorrt.readiness import cuda_device_available

    return cuda_device_available()


def choose_backend(backend: str) -> str:
    """The backend ``create_engine`` loads for ``backend``: ``auto`` is TensorRT when everything the GPU path
    needs is here, else ONNX Runtime on the CPU, with a one-line note saying what was missing (no note on a
    CPU-only install, where TensorRT is simply absent)."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    from .tensorrt.deps import import_tensorrt
    from .tensorrt.readiness import gpu_path_problem

    try:
        import_tensorrt()
    except ModelError:  # a CPU-only install: nothing to say
        return "onnxruntime"
    problem = gpu_path_problem()
    if problem is None:
        return "tensorrt"
    note(f"running on the CPU (ONNX Runtime): the GPU path cannot start: {problem}")
    return "onnxruntime"


def create_engine(model_path: str, *, backend: str = "auto", imgsz: tuple[int, int] = (640, 640), **options) -> Engine:
    """Load ``model_path`` (an ONNX file) on ``backend``; ``auto`` picks TensorRT when it and a GPU are present."""
    if choose_backend(backend) == "tensorrt":
        from .tensorrt import TensorRTEngine

        return TensorRTEngine(model_path, imgsz=imgsz, **options)
    from .onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model_path, imgsz=imgsz, **{k: v for k, v in options.items() if k == "threads"})


__all__ = ["BACKENDS", "Engine", "choose_backend", "create_engine", "tensorrt_available"]
