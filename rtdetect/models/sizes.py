"""Input sizes a model can be exported at (cheap to import: no torch)."""
from __future__ import annotations

from typing import Sequence

from .errors import ExportArgumentError


def check_imgsz(imgsz: Sequence[int], stride: int) -> tuple[int, int]:
    """(H, W) as ints; each must be a positive multiple of ``stride``."""
    if len(imgsz) != 2:
        raise ExportArgumentError(f"imgsz must be (H, W), got {imgsz!r}")
    h, w = (int(v) for v in imgsz)
    if h <= 0 or w <= 0 or h % stride or w % stride:
        raise ExportArgumentError(f"imgsz {h}x{w} must be positive multiples of the model stride {stride}")
    return h, w
