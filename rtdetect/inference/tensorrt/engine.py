"""TensorRT on an NVIDIA GPU: the ``Engine`` protocol over a cached, automatically built engine.

``TensorRTEngine("model.onnx", imgsz=(640, 640), precision="fp16")`` finds the engine for this model,
precision, shape, TensorRT version and GPU in the cache (:mod:`rtdetect.inference.tensorrt.cache`) or builds
it on first use (minutes); a cached engine that is corrupt or incompatible is reported and rebuilt. A prebuilt
``.engine`` file (from ``rtdetect build``) is loaded as is, with the metadata of its sidecar JSON.

tensorrt and pycuda are imported only when an engine is created; without them the error says what is
missing and which extra to install.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import ModelError
from ...notes import note
from ..base import FrameSupply, SynchronousSubmit, inference_failed
from ..onnx_tools.calibration import DEFAULT_CALIB_FRAMES

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")

class TensorRTEngine(SynchronousSubmit):
    """A TensorRT engine behind the ``Engine`` protocol (see :mod:`rtdetect.inference.base`).

    model_path: an ONNX file (built and cached) or a serialised engine (``.engine``/``.plan``/``.trt``).
    imgsz: (H, W) for models with a dynamic input size; precision: fp32 | fp16 (default) | int8;
    batch: the largest batch ``infer`` will get (needs a dynamic-batch ONNX above 1); calibration /
    calib_frames: INT8 calibration frames (a ``FrameSupply``) and how many; cache_dir: engine cache root;
    device: CUDA ordinal;
    workspace_gb: builder workspace; threads: accepted for symmetry with ONNX Runtime and ignored.

    ``infer(tensor)``: (B, 3, H, W) ``input_dtype`` on the host → outputs as float32 host arrays.
    ``runner`` (:class:`rtdetect.inference.tensorrt.runner.EngineRunner`) exposes the device buffers and the
    stream for the zero-copy GPU pipeline. ``close()`` frees everything; use ``with``.
    """

    name = "tensorrt"

    def __init__(self, model_path: str, *, imgsz: tuple[int, int] = (640, 640), precision: str = "fp16",
                 batch: int = 1, calibration: FrameSupply | None = None, calib_frames: int = DEFAULT_CALIB_FRAMES,
                 cache_dir: str | None = None, device: int = 0, workspace_gb: float | None = None,
                 threads: int | None = None) -> None:
        from .runner import EngineRunner

        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file not found: {model_path}")
        if path.suffix.lower() in ENGINE_SUFFIXES:
            self.runner = EngineRunner(path.read_bytes(), device=device)
            self.metadata = _sidecar_metadata(path)
            self.engine_path = path
        else:
            self.runner, self.engine_path = _build_and_load(path, imgsz, precision, batch, calibration,
                                                            calib_frames, cache_dir, device, workspace_gb)
            self.metadata = _sidecar_metadata(self.engine_path)
        spec = self.runner.input
        self.input_hw = (int(spec.max_shape[2]), int(spec.max_shape[3]))
        self.input_dtype = np.dtype(spec.dtype)
        self.max_batch = self.runner.max_batch
        self.precision = self.metadata.get("rtdetect.precision", precision)
        self.device = int(device)
        self.path = str(model_path)

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """(B, 3, H, W) ``input_dtype`` → outputs as float32 arrays in engine output order; InferenceError
        when TensorRT or CUDA cannot run it, ValueError for a shape outside the engine's."""
        if self.runner is None:
            raise RuntimeError("TensorRTEngine is closed")
        try:
            return self.runner.infer(tensor)
        except ValueError:  # a tensor of a shape the engine does not take: the caller's mistake, as it is
            raise
        except Exception as exc:  # TensorRT's RuntimeError (execute failed), pycuda's driver errors
            raise inference_failed(self.name, str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            runner.close()

    def __enter__(self) -> "TensorRTEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _build_and_load(path: Path, imgsz, precision, batch, calibration, calib_frames, cache_dir, device, workspace_gb):
    """Ensure the cached engine (rebuilding a bad one once) and load it; returns (runner, engine path)."""
    from .builder import BuildRequest, EngineBuilder, open_engine
    from .runner import EngineRunner
    from .toolkit import DEFAULT_WORKSPACE_GB, TensorRTToolkit

    request = BuildRequest(path, precision, int(batch), (int(imgsz[0]), int(imgsz[1])), calibration, int(calib_frames))
    with TensorRTToolkit(device, workspace_gb=workspace_gb or DEFAULT_WORKSPACE_GB, log=note) as toolkit:
        builder = EngineBuilder(toolkit, cache_dir=cache_dir, log=note)
        runner, paths = open_engine(builder, request, lambda plan: EngineRunner(plan, device=device))
    return runner, paths.engine


def _sidecar_metadata(engine_path: Path) -> dict[str, str]:
    """The model metadata stored beside an engine (``<engine>.json``), or {} when there is none."""
    sidecar = engine_path.with_suffix(".json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    metadata = data.get("metadata") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
