"""The INT8 model for ``--precision int8`` on ONNX Runtime: the Q/DQ ONNX of ``rtdetect.inference.onnx_tools.quantize``
(issue 5's quantizer, calibrated on real frames), made once per (model, calibration source, frame count,
recipe) and cached under the rtdetect cache directory.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..capture import DEMO, demo_clip_path
from ..config import cache_root


def calibration_path(source: str) -> str:
    """A path the calibration reader understands for a bench ``--source`` (``demo`` → the bundled clip)."""
    return demo_clip_path() if source == DEMO else source


def _key(model_path: str, calib_source: str, frames: int, imgsz: tuple[int, int], recipe: str) -> str:
    from ..models.cache import file_sha256

    text = "|".join([file_sha256(model_path), os.path.abspath(calib_source), str(frames), f"{imgsz[0]}x{imgsz[1]}", recipe])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def int8_model(model_path: str, *, calib_source: str, frames: int, imgsz: tuple[int, int]) -> Path:
    """The cached Q/DQ INT8 ONNX of the float32 ``model_path``, calibrated on ``frames`` frames spread
    over ``calib_source`` (a video, an image or a folder); built on first use (takes a while)."""
    from ..inference.onnx_tools.calibration import calibration_frames
    from ..inference.onnx_tools.quantize import RECIPE, progress_printer, write_int8_qdq

    source = calibration_path(calib_source)
    target = cache_root() / "bench-int8" / f"{Path(model_path).stem}-int8-{_key(model_path, source, frames, imgsz, RECIPE)}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_int8_qdq(model_path, target, calibration_frames(source, frames), imgsz=imgsz,
                          on_frame=progress_printer(frames))
