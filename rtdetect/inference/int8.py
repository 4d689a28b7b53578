"""The INT8 model for ``--precision int8`` on the CPU backends (ONNX Runtime, OpenVINO): the Q/DQ ONNX
of ``rtdetect.inference.onnx_tools.quantize`` (issue 5's quantizer, calibrated on real frames), made once per (model,
calibration source, frame count, input size, recipe) and cached under the rtdetect cache directory.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..capture import DEMO, demo_clip_path
from ..config import cache_root
from ..models.cache import build_once
from ..notes import quiet_root_logger


def calibration_path(source: str) -> str:
    """A path the calibration reader understands for a bench ``--source`` (``demo`` → the bundled clip)."""
    return demo_clip_path() if source == DEMO else source


def _key(model_path: str, calib_source: str, frames: int, imgsz: tuple[int, int], recipe: str) -> str:
    from ..models.cache import file_sha256

    text = "|".join([file_sha256(model_path), os.path.abspath(calib_source), str(frames), f"{imgsz[0]}x{imgsz[1]}", recipe])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def int8_model(model_path: str, *, calib_source: str, frames: int, imgsz: tuple[int, int],
               cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The cached Q/DQ INT8 ONNX of the float32 ``model_path``, calibrated on ``frames`` frames spread
    over ``calib_source`` (a video, an image, a folder, or ``demo``); built on first use (takes a while) and
    again when its checksum no longer matches (:func:`rtdetect.models.cache.build_once`).

    Frames are letterboxed to the model's own input size where it is fixed, else to ``imgsz``. The file
    lives in ``cache_dir/int8`` (default: the rtdetect cache root); ``progress`` prints calibration
    progress on stderr."""
    from .onnx_tools.calibration import calibration_frames
    from .onnx_tools.variants import inspect_onnx
    from .onnx_tools.quantize import RECIPE, progress_printer, write_int8_qdq

    shape = inspect_onnx(model_path).input_shape
    hw = (shape[2], shape[3]) if isinstance(shape[2], int) and isinstance(shape[3], int) else tuple(imgsz)
    source = calibration_path(calib_source)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    target = root / "int8" / f"{Path(model_path).stem}-int8-{_key(model_path, source, frames, hw, RECIPE)}.onnx"

    def calibrate(path: Path) -> Path:
        # ONNX Runtime's quantizer logs advice ("consider pre-processing") on the root logger.
        with quiet_root_logger():
            return write_int8_qdq(model_path, path, calibration_frames(source, frames), imgsz=hw,
                                  on_frame=progress_printer(frames) if progress else None)

    return build_once(target, calibrate)
