"""Inference backends behind one ``Engine`` protocol. Backends import their libraries lazily."""
from __future__ import annotations

from typing import Callable

from ..errors import ModelError
from ..notes import note
from .base import Engine, FrameSupply

BACKENDS = ("auto", "onnxruntime", "openvino", "tensorrt")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")
CPU_PRECISIONS = {"onnxruntime": ("fp32", "int8"), "openvino": ("fp32", "bf16", "int8")}


def tensorrt_available() -> bool:
    """True when TensorRT, pycuda, the NVIDIA driver and a CUDA device are all usable here."""
    from .tensorrt.readiness import cuda_device_available

    return cuda_device_available()


def choose_backend(backend: str) -> str:
    """Where ``create_engine`` runs ``backend``: the backend itself when one is named; for ``auto``,
    ``tensorrt`` when everything the GPU path needs is here, else ``cpu`` (the measured CPU choice of
    :mod:`rtdetect.inference.selection`), with a one-line note saying what the GPU path was missing (no
    note on a CPU-only install, where TensorRT is simply absent)."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    from .tensorrt.deps import import_tensorrt
    from .tensorrt.readiness import gpu_path_problem

    try:
        import_tensorrt()
    except ModelError:  # a CPU-only install: nothing to say
        return "cpu"
    problem = gpu_path_problem()
    if problem is None:
        return "tensorrt"
    note(f"running on the CPU: the GPU path cannot start: {problem}")
    return "cpu"


def open_cpu_engine(model_path: str, *, backend: str, precision: str, imgsz: tuple[int, int] = (640, 640),
                    threads: int | None = None, calibration: FrameSupply | None = None,
                    calib_frames: int | None = None, cache_dir: str | None = None, batch: int = 1) -> Engine:
    """``model_path`` on a CPU ``backend`` (onnxruntime | openvino) in ``precision``. int8 runs the cached
    INT8 model calibrated on ``calib_frames`` frames of ``calibration`` (ModelError when it is None).
    ``batch``: the largest batch the engine will get (OpenVINO compiles a dynamic batch for it)."""
    if precision not in CPU_PRECISIONS.get(backend, ()):
        allowed = ", ".join(f"{b}: {'/'.join(p)}" for b, p in CPU_PRECISIONS.items())
        raise ModelError(f"--backend {backend} cannot compute {precision} (CPU backends: {allowed})")
    if precision == "int8":
        from .int8 import int8_model
        from .selection import AUTO_CALIB_FRAMES

        if calibration is None:
            raise ModelError("--precision int8 needs calibration frames (calibration=, e.g. "
                             "rtdetect.trial_inputs.MediaFrames())")
        model_path = str(int8_model(model_path, backend=backend, calibration=calibration, imgsz=imgsz,
                                    cache_dir=cache_dir, frames=calib_frames or AUTO_CALIB_FRAMES, progress=False))
    if backend == "openvino":
        from .openvino import OpenVinoEngine

        return OpenVinoEngine(model_path, precision=precision, imgsz=imgsz, threads=threads, batch=batch)
    from .onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model_path, imgsz=imgsz, threads=threads)


def create_engine(model_path: str, *, backend: str = "auto", precision: str = "auto",
                  imgsz: tuple[int, int] = (640, 640), threads: int | None = None,
                  calibration: FrameSupply | None = None, calib_frames: int | None = None,
                  cache_dir: str | None = None, batch: int = 1,
                  log: Callable[[str], None] | None = None, **tensorrt_options) -> Engine:
    """Load ``model_path`` (an ONNX file) on ``backend`` in ``precision`` ("auto": chosen).

    ``batch``: the largest batch ``infer`` will get (above 1 the model needs a dynamic batch; the engine's
    ``max_batch`` says what it takes). ``calibration``: the frames INT8 calibration and the ``auto`` trial
    run on, handed in by the caller (:class:`rtdetect.trial_inputs.MediaFrames`; this room reads no media);
    needed only when one of them runs.

    ``auto`` takes TensorRT when it and a GPU are present (precision auto = fp16); on the CPU it runs the
    measured choice of :mod:`rtdetect.inference.selection` (engine and precision, accuracy-guarded,
    cached). ``--backend openvino`` with precision auto chooses among OpenVINO's precisions the same way.
    """
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if choose_backend(backend) == "tensorrt":
        from .tensorrt import TensorRTEngine

        given = {"precision": None if precision == "auto" else precision, "calibration": calibration,
                 "calib_frames": calib_frames, "threads": threads}
        options = {**tensorrt_options, **{k: v for k, v in given.items() if v is not None}}
        return TensorRTEngine(model_path, imgsz=imgsz, cache_dir=cache_dir, batch=batch, **options)
    cpu = {"imgsz": imgsz, "threads": threads, "calibration": calibration, "calib_frames": calib_frames,
           "cache_dir": cache_dir, "batch": batch}
    if backend == "auto" or precision == "auto":
        from .selection import select_candidate

        chosen = select_candidate(model_path, backend=backend, precision=precision, imgsz=imgsz,
                                  calibration=calibration, cache_dir=cache_dir,
                                  open_engine=lambda c: open_cpu_engine(model_path, backend=c.backend,
                                                                        precision=c.precision, **cpu),
                                  **({"log": log} if log else {}))
        backend, precision = chosen.backend, chosen.precision
    return open_cpu_engine(model_path, backend=backend, precision=precision, **cpu)


__all__ = ["BACKENDS", "PRECISIONS", "Engine", "FrameSupply", "choose_backend", "create_engine", "open_cpu_engine",
           "tensorrt_available"]
