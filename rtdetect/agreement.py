"""Do two detectors agree? Per frame, one-to-one matches of the same class with IoU >= a threshold.

The accuracy guard of ``--backend auto`` (:mod:`rtdetect.inference.selection`) and the benchmarks use
this one definition. A pair matches when the classes are equal and the box IoU is at least the
threshold; for segmentation (both sides have masks) the mask IoU must reach it too. Matching is
greedy, highest pair IoU first, each detection used once. Agreement is the F1 score of the matches:
``2 * matched / (reference detections + other detections)``.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .boxes import pairwise_iou
from .types import BoxMasks, Detections


def mask_iou(a: BoxMasks, i: int, b: BoxMasks, j: int) -> float:
    """IoU of mask ``i`` of ``a`` and mask ``j`` of ``b`` (same frame), computed on the overlap of their
    crops: O(crop area), never O(H*W)."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.bounds()[i], b.bounds()[j]
    x0, y0, x1, y1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
    inter = 0
    if x1 > x0 and y1 > y0:
        inter = np.count_nonzero(a.crops[i][y0 - ay0:y1 - ay0, x0 - ax0:x1 - ax0]
                                 & b.crops[j][y0 - by0:y1 - by0, x0 - bx0:x1 - bx0])
    union = np.count_nonzero(a.crops[i]) + np.count_nonzero(b.crops[j]) - inter
    return inter / union if union else 0.0


def greedy_matches(iou: np.ndarray, threshold: float) -> int:
    """How many one-to-one pairs of (A, B) ``iou`` reach ``threshold``, taking the highest IoU first."""
    iou = iou.copy()
    count = 0
    while iou.size:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[i, j] < threshold:
            break
        count += 1
        iou[i, :] = 0
        iou[:, j] = 0
    return count


def frame_matches(ref: Detections, other: Detections, threshold: float) -> int:
    """Matched pairs between two frames' detections (same class, box IoU and, with masks, mask IoU)."""
    iou = pairwise_iou(ref.xyxy, other.xyxy).astype(np.float64)
    if iou.size == 0:
        return 0
    iou[ref.class_ids[:, None] != other.class_ids[None, :]] = 0
    if ref.masks is not None and other.masks is not None:
        for i, j in zip(*np.nonzero(iou >= threshold)):  # only pairs that can still match
            iou[i, j] = min(iou[i, j], mask_iou(ref.masks, int(i), other.masks, int(j)))
    return greedy_matches(iou, threshold)


@dataclass(frozen=True)
class Agreement:
    """Agreement of ``other`` with ``reference`` over ``frames`` frames: matched pairs, detection counts,
    and F1 (None when neither side detected anything, so there was nothing to compare)."""

    frames: int
    matched: int
    reference: int
    other: int
    iou_threshold: float
    masks: bool

    def __post_init__(self) -> None:
        """Counts are counts, the threshold a number in [0, 1], ``masks`` a bool (figures read back from a
        stored record are checked here: TypeError or ValueError naming the field)."""
        for name in ("frames", "matched", "reference", "other"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise TypeError(f"Agreement.{name} must be a count, got {value!r}")
        threshold = self.iou_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 <= threshold <= 1:
            raise ValueError(f"Agreement.iou_threshold must be a number in [0, 1], got {threshold!r}")
        if not isinstance(self.masks, (bool, np.bool_)):
            raise TypeError(f"Agreement.masks must be a bool, got {self.masks!r}")
        if self.matched > min(self.reference, self.other):
            raise ValueError(f"Agreement.matched ({self.matched}) exceeds the detections on a side")

    @property
    def f1(self) -> float | None:
        total = self.reference + self.other
        return 2 * self.matched / total if total else None

    def describe(self) -> str:
        f1 = "n/a" if self.f1 is None else f"{self.f1:.3f}"
        what = "box and mask IoU" if self.masks else "box IoU"
        return (f"F1 {f1} ({self.matched} of {self.reference} reference / {self.other} detections matched at "
                f"{what} >= {self.iou_threshold}, same class, {self.frames} frames)")


def agreement(reference: Sequence[Detections], other: Sequence[Detections], threshold: float = 0.9) -> Agreement:
    """Agreement of two runs over the same frames (``reference[i]`` and ``other[i]`` saw frame i)."""
    if len(reference) != len(other):
        raise ValueError(f"agreement needs the same frames on both sides, got {len(reference)} and {len(other)}")
    matched = sum(frame_matches(r, o, threshold) for r, o in zip(reference, other))
    masks = any(r.masks is not None for r in reference)
    return Agreement(len(reference), matched, sum(len(r) for r in reference), sum(len(o) for o in other),
                     threshold, masks)
