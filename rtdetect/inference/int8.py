"""The INT8 model for ``--precision int8`` on the CPU backends (ONNX Runtime, OpenVINO): the Q/DQ ONNX
of ``rtdetect.inference.onnx_tools.quantize`` (issue 5's quantizer, calibrated on real frames), made once per (model,
calibration frames, frame count, input size, recipe) and cached under the rtdetect cache directory.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..config import cache_root
from ..models.cache import build_once
from ..notes import quiet_root_logger
from .base import FrameSupply


def int8_key(model_path: str, identity: str, frames: int, imgsz: tuple[int, int], recipe: str) -> str:
    """The cache key of an INT8 model: the float model's content, the calibration frames' ``identity``,
    their count, the input size and the recipe."""
    from ..models.cache import file_sha256
    from .onnx_tools.calibration import calibration_fingerprint

    return calibration_fingerprint(f"{file_sha256(model_path)}|{identity}", frames, imgsz, recipe)[:16]


def int8_model(model_path: str, *, calibration: FrameSupply, frames: int, imgsz: tuple[int, int],
               cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The cached Q/DQ INT8 ONNX of the float32 ``model_path``, calibrated on ``frames`` frames of
    ``calibration``; built on first use (takes a while) and again when its checksum no longer matches
    (:func:`rtdetect.models.cache.build_once`).

    Frames are prepared at the model's own input size where it is fixed, else at ``imgsz``. The file
    lives in ``cache_dir/int8`` (default: the rtdetect cache root); ``progress`` prints calibration
    progress on stderr."""
    import numpy as np

    from .onnx_tools.variants import inspect_onnx
    from .onnx_tools.quantize import RECIPE, progress_printer, write_int8_qdq

    shape = inspect_onnx(model_path).input_shape
    hw = (shape[2], shape[3]) if isinstance(shape[2], int) and isinstance(shape[3], int) else tuple(imgsz)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    key = int8_key(model_path, calibration.identity(), frames, hw, RECIPE)
    target = root / "int8" / f"{Path(model_path).stem}-int8-{key}.onnx"

    def calibrate(path: Path) -> Path:
        tensors = (calibration.prepare(image, hw, np.dtype(np.float32)) for image in calibration.frames(frames))
        # ONNX Runtime's quantizer logs advice ("consider pre-processing") on the root logger.
        with quiet_root_logger():
            return write_int8_qdq(model_path, path, tensors, on_frame=progress_printer(frames) if progress else None)

    return build_once(target, calibrate)
