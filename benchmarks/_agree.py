"""Do two detectors agree? Per frame, one-to-one matches of the same class with IoU >= a threshold."""
from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of (A, 4) and (B, 4) xyxy boxes, float64."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def matches(ref: tuple, other: tuple, threshold: float) -> int:
    """Greedy one-to-one matching (highest IoU first) of (boxes, classes) pairs; returns the match count."""
    iou = iou_matrix(ref[0], other[0])
    if iou.size == 0:
        return 0
    iou[np.asarray(ref[1])[:, None] != np.asarray(other[1])[None, :]] = 0
    count = 0
    while True:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[i, j] < threshold:
            return count
        count += 1
        iou[i, :] = 0
        iou[:, j] = 0


def agreement(ref: dict, other: dict, threshold: float = 0.9) -> dict:
    """Over the frames both saw: matched, counts, recall (of ref), precision and F1 agreement in %."""
    frames = sorted(set(ref) & set(other))
    matched = sum(matches(ref[f], other[f], threshold) for f in frames)
    n_ref = sum(len(ref[f][1]) for f in frames)
    n_other = sum(len(other[f][1]) for f in frames)
    pct = lambda num, den: round(100.0 * num / den, 2) if den else None  # noqa: E731
    return {"frames": len(frames), "iou_threshold": threshold, "matched": matched, "reference_detections": n_ref,
            "detections": n_other, "recall_pct": pct(matched, n_ref), "precision_pct": pct(matched, n_other),
            "agreement_pct": pct(2 * matched, n_ref + n_other)}
