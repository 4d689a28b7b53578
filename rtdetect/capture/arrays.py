"""Pictures the Python API is given, as frames: NumPy arrays (BGR, or RGB when told), PIL images, and
sequences or generators of them (``Detector.stream(images)``)."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator

import numpy as np

from ..errors import UsageError
from ..types import Frame
from .base import Source
from .convert import to_bgr8

CHANNELS = ("bgr", "rgb")


def is_picture(value) -> bool:
    """Whether ``value`` is one picture (an array or a PIL image), not a path, URL or collection of them."""
    return isinstance(value, np.ndarray) or _is_pil(value)


def _is_pil(value) -> bool:
    pil = sys.modules.get("PIL.Image")  # a PIL image can only exist once PIL was imported
    return pil is not None and isinstance(value, pil.Image)


def as_bgr(picture, *, channels: str = "bgr", argument: str = "image") -> np.ndarray:
    """``picture`` as (H, W, 3) uint8 BGR: an (H, W, 3) array in ``channels`` order (gray, BGRA and 16-bit
    arrays converted), or a PIL image (RGB by definition, whatever ``channels`` says). UsageError naming
    ``argument`` for anything else."""
    if _is_pil(picture):
        return np.ascontiguousarray(np.asarray(picture.convert("RGB"))[:, :, ::-1])
    if not isinstance(picture, np.ndarray):
        raise UsageError(f"{argument}: expected a NumPy array, a PIL image, or a path; got {type(picture).__name__}")
    try:
        bgr = to_bgr8(picture)
    except ValueError as exc:
        raise UsageError(f"{argument}: {exc} (expected (H, W, 3) uint8 {channels.upper()})") from None
    if channels == "rgb" and picture.ndim == 3 and picture.shape[2] == 3:
        bgr = np.ascontiguousarray(bgr[:, :, ::-1])
    return bgr


class PictureSource(Source):
    """A sequence or generator of pictures as a source: every picture a frame, in order (not live: none
    is dropped); ``frame_hw`` is None (pictures may differ in size)."""

    def __init__(self, pictures: Iterable, *, channels: str = "bgr", name: str = "images") -> None:
        super().__init__(name)
        self._pictures, self._channels = pictures, channels
        self.frame_count = len(pictures) if hasattr(pictures, "__len__") else None

    def _open(self) -> None:
        """Nothing to open: the pictures are in memory (or made by the caller's generator)."""

    def _frames(self) -> Iterator[Frame]:
        for index, picture in enumerate(self._pictures):
            yield Frame(as_bgr(picture, channels=self._channels, argument=f"{self.name}[{index}]"), index, None,
                        self.name)

    def _release(self) -> None:
        """Nothing to release."""
