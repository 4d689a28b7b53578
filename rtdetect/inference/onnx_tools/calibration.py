"""What INT8 calibration needs from the frames it is handed: their cache fingerprint and an ONNX Runtime
data reader over them.

The frames themselves come from the caller (:class:`rtdetect.inference.base.FrameSupply`), already
letterboxed as at inference, so calibration sees the same input distribution, padding included; this room
reads no media file and knows no letterbox.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable

import numpy as np

DEFAULT_CALIB_FRAMES = 500


def calibration_fingerprint(identity: str, count: int, imgsz: tuple[int, int], recipe: str) -> str:
    """A short hash naming a calibration set and recipe: the frames' ``identity`` (their supply's, which
    changes with the files behind them), the frame count, the input size and the quantization recipe."""
    text = f"{identity}|count={count}|imgsz={imgsz[0]}x{imgsz[1]}|recipe={recipe}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class TensorReader:
    """An ONNX Runtime ``CalibrationDataReader`` (duck-typed: ``get_next``) over prepared input tensors.

    Each ``get_next()`` returns ``{input_name: tensor}`` ((1, 3, H, W) float32 in [0, 1], as handed in),
    or None when the tensors are exhausted. ``count`` is how many were handed out; ``on_frame(count)`` is
    called after each (progress reporting).
    """

    def __init__(self, tensors: Iterable[np.ndarray], input_name: str, *,
                 on_frame: Callable[[int], None] | None = None) -> None:
        self._tensors = iter(tensors)
        self._input_name = input_name
        self._on_frame = on_frame
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._tensors, None)
        if tensor is None:
            return None
        self.count += 1
        if self._on_frame is not None:
            self._on_frame(self.count)
        return {self._input_name: tensor}
