"""The INT8 model for ``--precision int8`` on the CPU backends (ONNX Runtime, OpenVINO): the Q/DQ ONNX
of ``rtdetect.inference.onnx_tools.quantize`` (issue 5's quantizer, calibrated on real frames), made once per (model,
calibration source, frame count, input size, recipe) and cached under the rtdetect cache directory.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
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


def int8_model(model_path: str, *, calib_source: str, frames: int, imgsz: tuple[int, int],
               cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The cached Q/DQ INT8 ONNX of the float32 ``model_path``, calibrated on ``frames`` frames spread
    over ``calib_source`` (a video, an image, a folder, or ``demo``); built on first use (takes a while).

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
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_root_warnings():
        return write_int8_qdq(model_path, target, calibration_frames(source, frames), imgsz=hw,
                              on_frame=progress_printer(frames) if progress else None)


@contextlib.contextmanager
def _quiet_root_warnings():
    """ONNX Runtime's quantizer logs advice ("consider pre-processing") on the root logger, which Python
    prints on stderr: hide records logged directly on the root logger while calibrating."""
    root = logging.getLogger()
    hide = logging.Filter("rtdetect-never-matches")  # a named filter rejects records of every other logger
    root.addFilter(hide)
    try:
        yield
    finally:
        root.removeFilter(hide)
