"""Letterbox preprocessing: frame (H, W, 3) uint8 BGR → network input (1, 3, h, w) float32 RGB in [0, 1].

The frame is scaled by ``min(h / H, w / W)`` with ``cv2.resize(..., INTER_LINEAR)``, keeping its aspect
ratio, and centred on a canvas filled with 114 (the YOLO convention). ``Letterbox`` records the map so
that boxes can be brought back to frame pixels. This is the reference the CUDA preprocess kernel matches.
"""
from __future__ import annotations

import cv2
import numpy as np

from .types import Letterbox

PAD_VALUE = 114


def letterbox_params(source_hw: tuple[int, int], input_hw: tuple[int, int]) -> tuple[Letterbox, tuple[int, int]]:
    """The letterbox for a frame of ``source_hw`` into ``input_hw``, and the resized (h, w) of the frame.

    Pads are whole pixels: left = round((w_in - w_new) / 2 - 0.1), likewise top, so that odd padding puts
    the extra pixel right/bottom.
    """
    src_h, src_w = source_hw
    in_h, in_w = input_hw
    if src_h < 1 or src_w < 1 or in_h < 1 or in_w < 1:
        raise ValueError(f"letterbox needs positive sizes, got source {source_hw} and input {input_hw}")
    scale = min(in_h / src_h, in_w / src_w)
    new_w = max(1, min(in_w, int(round(src_w * scale))))
    new_h = max(1, min(in_h, int(round(src_h * scale))))
    pad_x = int(round((in_w - new_w) / 2 - 0.1))
    pad_y = int(round((in_h - new_h) / 2 - 0.1))
    box = Letterbox(scale=scale, pad_x=float(pad_x), pad_y=float(pad_y), input_hw=(in_h, in_w),
                    source_hw=(src_h, src_w))
    return box, (new_h, new_w)


def fill_padding(out: np.ndarray, top: int, left: int, new_h: int, new_w: int) -> None:
    """Fill everything of ``out`` (1, 3, h, w) outside the picture rows [top, top + new_h) and columns
    [left, left + new_w) with the pad value, strip by strip (the picture itself is not touched)."""
    value = PAD_VALUE / 255.0
    planes = out[0]
    planes[:, :top] = value
    planes[:, top + new_h:] = value
    planes[:, top:top + new_h, :left] = value
    planes[:, top:top + new_h, left + new_w:] = value


class Preprocessor:
    """Letterbox + normalise with reused buffers (one instance per pipeline thread).

    ``__call__(image)`` returns ``(tensor, letterbox)`` with ``tensor`` of shape (1, 3, h, w), dtype
    ``dtype`` (float32 or float16). The returned array is a fresh copy unless ``reuse_output`` is True,
    in which case it is overwritten by the next call.

    With ``reuse_output`` only the picture's part of the output is written per frame: the padding is
    filled once, when the frame size changes. Without it each call fills a fresh array's padding strips
    and picture directly (no full-size copy of a reused buffer). Resizing stays in interleaved uint8
    (what cv2.resize is fastest at); the planes are then split and scaled straight into the output, so
    no full-size float temporary is made.
    """

    def __init__(self, input_hw: tuple[int, int], *, dtype=np.float32, reuse_output: bool = False) -> None:
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
            raise ValueError(f"Preprocessor dtype must be float32 or float16, got {self.dtype}")
        self.reuse_output = reuse_output
        self._out = np.empty((1, 3, *self.input_hw), dtype=self.dtype)
        self._slot: tuple[int, int, int, int] | None = None
        self._resized: np.ndarray | None = None
        self._planes: list[np.ndarray] = []

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"preprocess expects (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
        box, (new_h, new_w) = letterbox_params(image.shape[:2], self.input_hw)
        top, left = int(box.pad_y), int(box.pad_x)
        out = self._out if self.reuse_output else np.empty_like(self._out)
        if (top, left, new_h, new_w) != self._slot:  # new geometry: new buffers, repaint the padding once
            self._slot = (top, left, new_h, new_w)
            self._resized = np.empty((new_h, new_w, 3), dtype=np.uint8)
            self._planes = [np.empty((new_h, new_w), dtype=np.uint8) for _ in range(3)]
            if self.reuse_output:
                out.fill(PAD_VALUE / 255.0)
        if not self.reuse_output:
            fill_padding(out, top, left, new_h, new_w)
        if (new_h, new_w) == image.shape[:2]:
            resized = image
        else:
            resized = cv2.resize(image, (new_w, new_h), dst=self._resized, interpolation=cv2.INTER_LINEAR)
        scale = np.float32(1.0 / 255.0)
        region = out[0, :, top:top + new_h, left:left + new_w]
        # Splitting into preallocated planes is ~10x faster than letting cv2.split allocate them.
        for channel, plane in enumerate(reversed(cv2.split(resized, self._planes))):  # BGR → RGB order
            np.multiply(plane, scale, out=region[channel], casting="unsafe")
        return out, box


def letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """One-shot letterbox of ``image`` (H, W, 3) uint8 BGR → ((1, 3, h, w) float32, Letterbox)."""
    return Preprocessor(input_hw)(image)
