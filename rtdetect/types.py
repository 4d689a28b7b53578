"""Central value types shared by every stage.

Stages know these types and never each other (see ``ARCHITECTURE.md``).
All validation raises ``ValueError``/``TypeError``: these run on user data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    image: (H, W, 3) uint8 BGR, C-contiguous.
    index: 0-based position of the frame in its source.
    pts: presentation time in seconds, or None when the source has no clock.
    source: the file name or URL the frame came from.
    """

    image: np.ndarray
    index: int
    pts: float | None
    source: str

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray):
            raise TypeError(f"Frame.image must be a numpy array, got {type(img).__name__}")
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"Frame.image must be (H, W, 3) uint8 BGR, got {img.shape} {img.dtype}")
        if img.shape[0] < 1 or img.shape[1] < 1:
            raise ValueError(f"Frame.image is empty: {img.shape}")
        if self.index < 0:
            raise ValueError(f"Frame.index must be >= 0, got {self.index}")

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])


@dataclass(frozen=True)
class Letterbox:
    """The affine map from original frame pixels to network input pixels.

    ``input = original * scale + (pad_x, pad_y)``; ``input_hw`` is the network input (H, W)
    and ``source_hw`` the original frame (H, W).
    """

    scale: float
    pad_x: float
    pad_y: float
    input_hw: tuple[int, int]
    source_hw: tuple[int, int]

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"Letterbox.scale must be > 0, got {self.scale}")

    def to_original(self, xyxy: np.ndarray) -> np.ndarray:
        """Map (N, 4) boxes from input pixels back to frame pixels, clipped to the frame.

        Returns a new float32 array; the input is not modified.
        """
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
        boxes[:, [0, 2]] -= self.pad_x
        boxes[:, [1, 3]] -= self.pad_y
        boxes /= self.scale
        h, w = self.source_hw
        # Fancy-indexed views are copies, so clip into the columns by assignment.
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        return boxes


# Detections.extra keys written by stages and read by renderers and sinks.
EXTRA_LINE_COUNTS = "line_counts"  # list of {"line": [x1, y1, x2, y2], "in": {label: n}, "out": {label: n}}


def _as(name: str, value, dtype, shape_tail: tuple[int, ...]) -> np.ndarray:
    arr = np.ascontiguousarray(value, dtype=dtype)
    if arr.ndim != 1 + len(shape_tail) or tuple(arr.shape[1:]) != shape_tail:
        want = "(N" + "".join(f", {d}" for d in shape_tail) + ")"
        raise ValueError(f"Detections.{name} must have shape {want}, got {arr.shape}")
    return arr


@dataclass(frozen=True)
class Detections:
    """Detections of one frame, in original frame pixels.

    xyxy: (N, 4) float32; scores: (N,) float32; class_ids: (N,) int32;
    masks: (N, H, W) bool in frame pixels, or None for detection-only models;
    track_ids: (N,) int64, or None when no tracker ran.
    extra: per-frame results of later stages, by the ``EXTRA_*`` keys above (not compared, not indexed).
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "xyxy", _as("xyxy", self.xyxy, np.float32, (4,)))
        set_(self, "scores", _as("scores", self.scores, np.float32, ()))
        set_(self, "class_ids", _as("class_ids", self.class_ids, np.int32, ()))
        n = len(self.xyxy)
        if len(self.scores) != n or len(self.class_ids) != n:
            raise ValueError(
                f"Detections fields disagree on N: xyxy {n}, scores {len(self.scores)}, "
                f"class_ids {len(self.class_ids)}"
            )
        if self.masks is not None:
            masks = np.asarray(self.masks)
            if masks.dtype != np.bool_ or masks.ndim != 3 or masks.shape[0] != n:
                raise ValueError(f"Detections.masks must be (N={n}, H, W) bool, got {masks.shape} {masks.dtype}")
            set_(self, "masks", masks)
        if self.track_ids is not None:
            set_(self, "track_ids", _as("track_ids", self.track_ids, np.int64, ()))
            if len(self.track_ids) != n:
                raise ValueError(f"Detections.track_ids must have N={n} entries, got {len(self.track_ids)}")

    @classmethod
    def empty(cls, mask_hw: tuple[int, int] | None = None) -> "Detections":
        """No detections; with ``mask_hw`` an empty (0, H, W) mask stack."""
        masks = None if mask_hw is None else np.zeros((0, *mask_hw), dtype=bool)
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), masks)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> "Detections":
        """Select by int, slice, integer array or boolean mask; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        idx = np.asarray(index) if not isinstance(index, slice) else index
        if isinstance(idx, np.ndarray) and idx.dtype == np.bool_ and idx.shape != (len(self),):
            raise ValueError(f"boolean index must have shape ({len(self)},), got {idx.shape}")
        return Detections(
            self.xyxy[idx],
            self.scores[idx],
            self.class_ids[idx],
            None if self.masks is None else self.masks[idx],
            None if self.track_ids is None else self.track_ids[idx],
        )
