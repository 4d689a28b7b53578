"""Central value types shared by every stage.

Stages know these types and never each other (see ``docs/architecture.md``).
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


def _indices(index, n: int, owner: str) -> np.ndarray:
    """Positions picked by an int, slice, integer array or (n,) boolean mask, as an int64 array."""
    if isinstance(index, (int, np.integer)):
        index = [int(index)]
    if isinstance(index, slice):
        return np.arange(n)[index]
    idx = np.asarray(index)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise ValueError(f"boolean index must have shape ({n},), got {idx.shape}")
        return np.flatnonzero(idx)
    if idx.size == 0:
        return np.zeros(0, np.int64)
    if not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
        raise ValueError(f"{owner} index must be an int, a slice, 1-D ints or a boolean mask, got {idx.dtype} {idx.shape}")
    if idx.min() < -n or idx.max() >= n:
        raise IndexError(f"{owner} index out of range for {n} entries")
    return np.where(idx < 0, idx + n, idx).astype(np.int64)


@dataclass(frozen=True, eq=False)
class BoxMasks:
    """Instance masks stored box-local: one crop per detection and where it sits in the frame.

    crops: N arrays (h_i, w_i) bool; crop i covers frame rows ``y0:y0 + h_i`` and columns ``x0:x0 + w_i``
    with ``(x0, y0) = offsets[i]``, and the mask is False everywhere outside it.
    offsets: (N, 2) int64 (x0, y0), frame pixels; frame_hw: the frame's (H, W).
    Memory and every operation on it are O(sum of crop areas); ``full(i)`` builds one (H, W) mask on request.
    """

    crops: tuple[np.ndarray, ...]
    offsets: np.ndarray
    frame_hw: tuple[int, int]

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        height, width = (int(v) for v in self.frame_hw)
        if height < 1 or width < 1:
            raise ValueError(f"BoxMasks.frame_hw must be positive, got {self.frame_hw}")
        crops = tuple(self.crops)
        offsets = np.asarray(self.offsets)
        if not crops and offsets.size == 0:
            offsets = np.zeros((0, 2), np.int64)
        if offsets.shape != (len(crops), 2) or not np.issubdtype(offsets.dtype, np.integer):
            raise ValueError(f"BoxMasks.offsets must be ({len(crops)}, 2) integers, got {offsets.shape} {offsets.dtype}")
        for crop, (x0, y0) in zip(crops, offsets.tolist()):
            if not isinstance(crop, np.ndarray) or crop.dtype != np.bool_ or crop.ndim != 2:
                raise ValueError(f"BoxMasks crops must be 2-D bool arrays, got {getattr(crop, 'shape', crop)!r}")
            if x0 < 0 or y0 < 0 or x0 + crop.shape[1] > width or y0 + crop.shape[0] > height:
                raise ValueError(f"BoxMasks crop {crop.shape} at (x0={x0}, y0={y0}) leaves the {height}x{width} frame")
        set_(self, "crops", crops)
        set_(self, "offsets", offsets.astype(np.int64, copy=False))
        set_(self, "frame_hw", (height, width))

    @classmethod
    def empty(cls, frame_hw: tuple[int, int]) -> "BoxMasks":
        return cls((), np.zeros((0, 2), np.int64), frame_hw)

    @classmethod
    def from_full(cls, masks: np.ndarray) -> "BoxMasks":
        """(N, H, W) bool → each mask cropped to the rows and columns it occupies (O(N*H*W): for inputs that
        are full-frame already; an empty mask becomes a 0x0 crop at the origin)."""
        masks = np.asarray(masks)
        if masks.dtype != np.bool_ or masks.ndim != 3:
            raise ValueError(f"BoxMasks.from_full needs (N, H, W) bool, got {masks.shape} {masks.dtype}")
        crops, offsets = [], []
        for mask in masks:
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            if rows.size == 0:
                crops.append(np.zeros((0, 0), bool))
                offsets.append((0, 0))
                continue
            crops.append(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].copy())
            offsets.append((cols[0], rows[0]))
        return cls(tuple(crops), np.asarray(offsets, np.int64).reshape(-1, 2), masks.shape[1:])

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> "BoxMasks":
        """Select like ``Detections.__getitem__``; the crops are shared, not copied."""
        picked = _indices(index, len(self), "BoxMasks")
        return BoxMasks(tuple(self.crops[i] for i in picked), self.offsets[picked], self.frame_hw)

    def bounds(self) -> np.ndarray:
        """(N, 4) int64 crop rectangles x0, y0, x1, y1 (end-exclusive) in frame pixels."""
        sizes = np.array([(c.shape[1], c.shape[0]) for c in self.crops], np.int64).reshape(-1, 2)
        return np.hstack([self.offsets, self.offsets + sizes])

    def areas(self) -> np.ndarray:
        """(N,) int64 mask pixel counts."""
        return np.array([np.count_nonzero(c) for c in self.crops], np.int64)

    def full(self, i: int) -> np.ndarray:
        """The (H, W) bool frame mask of detection ``i`` (allocated on request)."""
        out = np.zeros(self.frame_hw, dtype=bool)
        crop, (x0, y0) = self.crops[i], self.offsets[i]
        out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
        return out

    def to_full(self) -> np.ndarray:
        """All masks as one (N, H, W) bool stack: O(N*H*W), for tests and small frames."""
        return np.stack([self.full(i) for i in range(len(self))]) if len(self) else \
            np.zeros((0, *self.frame_hw), dtype=bool)


@dataclass(frozen=True)
class Detections:
    """Detections of one frame, in original frame pixels.

    xyxy: (N, 4) float32; scores: (N,) float32; class_ids: (N,) int32;
    masks: ``BoxMasks`` with N entries (box-local crops in frame pixels), or None for detection-only models;
    track_ids: (N,) int64, or None when no tracker ran.
    extra: per-frame results of later stages, by the ``EXTRA_*`` keys above (not compared, not indexed).
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    masks: BoxMasks | None = None
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
            if not isinstance(self.masks, BoxMasks):
                raise TypeError(f"Detections.masks must be BoxMasks (box-local; BoxMasks.from_full converts an "
                                f"(N, H, W) stack), got {type(self.masks).__name__}")
            if len(self.masks) != n:
                raise ValueError(f"Detections.masks must have N={n} entries, got {len(self.masks)}")
        if self.track_ids is not None:
            set_(self, "track_ids", _as("track_ids", self.track_ids, np.int64, ()))
            if len(self.track_ids) != n:
                raise ValueError(f"Detections.track_ids must have N={n} entries, got {len(self.track_ids)}")

    @classmethod
    def empty(cls, mask_hw: tuple[int, int] | None = None) -> "Detections":
        """No detections; with ``mask_hw`` (the frame's H, W) an empty ``BoxMasks``."""
        masks = None if mask_hw is None else BoxMasks.empty(mask_hw)
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), masks)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> "Detections":
        """Select by int, slice, integer array or boolean mask; always returns Detections."""
        idx = _indices(index, len(self), "Detections")
        return Detections(
            self.xyxy[idx],
            self.scores[idx],
            self.class_ids[idx],
            None if self.masks is None else self.masks[idx],
            None if self.track_ids is None else self.track_ids[idx],
        )

    def to_supervision(self, names: Sequence[str] = ()):
        """This frame as ``supervision.Detections`` (needs the optional ``supervision`` package): xyxy,
        confidence, class_id, tracker_id, full-frame masks (N, H, W) bool, ``data["class_name"]`` when
        ``names`` is given."""
        try:
            import supervision as sv
        except ImportError:
            raise ImportError("Detections.to_supervision needs supervision: pip install supervision") from None
        data = {}
        if names:
            data["class_name"] = np.array([names[c] if 0 <= c < len(names) else str(c) for c in self.class_ids.tolist()])
        return sv.Detections(xyxy=self.xyxy.copy(), confidence=self.scores.copy(), class_id=self.class_ids.copy(),
                             tracker_id=None if self.track_ids is None else self.track_ids.copy(),
                             mask=None if self.masks is None else self.masks.to_full(), data=data)
