"""Do two detectors agree? Per frame, one-to-one matches of the same class with IoU >= a threshold.
The matching itself is rtdetect's (:mod:`rtdetect.agreement`, also the accuracy guard of ``--backend auto``);
this adds the per-frame dict form of detections that Ultralytics' results are read into."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rtdetect.agreement import greedy_matches  # noqa: E402
from rtdetect.boxes import pairwise_iou  # noqa: E402


def matches(ref: tuple, other: tuple, threshold: float) -> int:
    """Greedy one-to-one matching (highest IoU first) of (boxes, classes) pairs; returns the match count."""
    iou = pairwise_iou(ref[0], other[0])
    if iou.size == 0:
        return 0
    iou[np.asarray(ref[1])[:, None] != np.asarray(other[1])[None, :]] = 0
    return greedy_matches(iou, threshold)


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
