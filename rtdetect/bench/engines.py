"""Opening the engine of one benchmark configuration, or saying why it cannot be opened here."""
from __future__ import annotations

from ..inference import create_engine

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def auto_configs() -> list[tuple[str, str]]:
    """``--backend auto`` in a benchmark: every (backend, precision) that ``--backend auto`` may choose here."""
    from ..inference.selection import candidates

    return [(c.backend, c.precision) for c in candidates()]


def unavailable_reason(backend: str, precision: str) -> str | None:
    """Why ``backend`` x ``precision`` cannot run on this machine, or None when it should."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r} (choose {', '.join(PRECISIONS)})"
    if backend == "tensorrt":
        from ..inference.tensorrt.readiness import gpu_path_problem

        problem = gpu_path_problem()
        if problem is not None:
            return problem
    if backend in ("onnxruntime", "auto") and precision in ("fp16", "bf16"):
        return f"{precision} on the CPU: ONNX Runtime's CPU provider runs fp32 kernels (try openvino)"
    if backend == "openvino":
        from ..inference.openvino import cpu_capabilities, unsupported_reason

        return unsupported_reason(precision, cpu_capabilities())
    return None


def open_engine(model_path: str, *, backend: str, precision: str, imgsz: tuple[int, int],
                threads: int | None = None, calib_source: str | None = None, calib_frames: int = 200):
    """``(engine, None)`` for a configuration that runs here, ``(None, reason)`` for one that does not.

    INT8 on the CPU runs the cached INT8 model (:func:`rtdetect.inference.int8.int8_model`) calibrated on
    ``calib_frames`` frames of ``calib_source``; TensorRT gets the precision and calibration source as build
    options. Errors caused by the configuration (a missing library) become the reason; errors caused by the
    model file itself propagate as ``RtdetectError``.
    """
    reason = unavailable_reason(backend, precision)
    if reason is not None:
        return None, reason
    try:
        from ..trial_inputs import MediaFrames

        return create_engine(model_path, backend=backend, precision=precision, imgsz=imgsz, threads=threads,
                             calibration=MediaFrames(calib_source) if calib_source else None,
                             calib_frames=calib_frames), None
    except (ImportError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
