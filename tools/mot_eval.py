"""MOT evaluation on ground truth with seeded, realistic detector degradation (tests and benchmarks).

The detections a tracker gets are derived from MOTChallenge ground truth (``frame,id,x,y,w,h,...``; the
``motmetrics`` wheel ships TUD-Campus and TUD-Stadtmitte): box jitter, missed detections, detections
weakened to low scores (as under occlusion), false positives, score noise. Scoring uses ``motmetrics``
with IoU distances computed here (motmetrics 1.4's ``iou_matrix`` calls a function NumPy 2 removed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Degradation:
    """How a simulated detector departs from the truth; fractions of boxes, sigma relative to box size."""

    name: str
    jitter: float        # sigma of corner noise, as a fraction of the box's width / height
    miss: float          # fraction of true boxes not detected
    weak: float          # fraction of the detected boxes whose score falls to [0.1, 0.5)
    false_per_frame: float
    score_noise: float


LEVELS = (
    Degradation("light", 0.02, 0.10, 0.10, 0.5, 0.05),
    Degradation("medium", 0.05, 0.20, 0.15, 1.0, 0.10),
    Degradation("heavy", 0.08, 0.30, 0.20, 2.0, 0.15),
)


def sequence_path(name: str) -> Path:
    """gt.txt of a sequence shipped in the motmetrics wheel (e.g. "TUD-Campus")."""
    import motmetrics

    return Path(motmetrics.__file__).parent / "data" / name / "gt.txt"


def load_gt(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """frame (1-based) → (ids (N,) int64, boxes (N, 4) float32 xyxy)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    out = {}
    for f in range(1, int(rows[:, 0].max()) + 1):
        r = rows[rows[:, 0] == f]
        boxes = np.stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]], axis=1).astype(np.float32)
        out[f] = (r[:, 1].astype(np.int64), boxes.reshape(-1, 4))
    return out


def degrade(gt, level: Degradation, seed: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """frame → (boxes (M, 4) float32, scores (M,) float32) as a detector might report them."""
    rng = np.random.default_rng(seed)
    all_boxes = np.concatenate([b for _, b in gt.values()])
    extent = all_boxes.max(axis=0)
    out = {}
    for f, (_, boxes) in gt.items():
        keep = rng.random(len(boxes)) >= level.miss
        b = boxes[keep].astype(np.float64)
        size = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]] * 2, axis=1)
        b += rng.normal(0, level.jitter, b.shape) * size
        scores = np.clip(0.85 + rng.normal(0, level.score_noise, len(b)), 0.5, 1.0)
        weak = rng.random(len(b)) < level.weak
        scores[weak] = rng.uniform(0.1, 0.5, weak.sum())
        n_false = rng.poisson(level.false_per_frame)
        w = rng.uniform(30, 120, n_false)
        x, y = rng.uniform(0, extent[2] - w), rng.uniform(0, extent[3] - 2.2 * w)
        fp = np.stack([x, y, x + w, y + 2.2 * w], axis=1)
        b = np.concatenate([b, fp]).astype(np.float32)
        s = np.concatenate([scores, rng.uniform(0.1, 0.6, n_false)]).astype(np.float32)
        out[f] = (b, s)
    return out


def iou_distance(a: np.ndarray, b: np.ndarray, max_distance: float = 0.5) -> np.ndarray:
    """(A, B) 1 - IoU, NaN (no match allowed) where IoU < 1 - max_distance."""
    if len(a) == 0 or len(b) == 0:
        return np.empty((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0]); y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2]); y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda c: (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])  # noqa: E731
    iou = inter / (area(a)[:, None] + area(b)[None, :] - inter)
    d = 1 - iou
    d[d > max_distance] = np.nan
    return d


def score(gt, tracks) -> dict[str, float]:
    """MOTA, IDF1 and ID switches of ``tracks`` (frame → (ids (K,), boxes (K, 4))) against ``gt``."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for f, (gt_ids, gt_boxes) in gt.items():
        ids, boxes = tracks.get(f, (np.zeros(0, np.int64), np.zeros((0, 4), np.float32)))
        acc.update(gt_ids.tolist(), np.asarray(ids).tolist(), iou_distance(gt_boxes, np.asarray(boxes)))
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"], name="run")
    return {"mota": float(summary["mota"].iloc[0]), "idf1": float(summary["idf1"].iloc[0]),
            "id_switches": int(summary["num_switches"].iloc[0])}


def run_rtdetect(detections, frame_rate: float = 25.0):
    """Our ByteTracker over degraded detections → frame → (ids, boxes)."""
    from rtdetect.tracking import ByteTracker
    from rtdetect.types import Detections

    tracker = ByteTracker(frame_rate=frame_rate)
    out = {}
    for f in sorted(detections):
        boxes, scores = detections[f]
        tracked = tracker.update(Detections(boxes, scores, np.zeros(len(boxes), np.int32)), f)
        out[f] = (tracked.track_ids, tracked.xyxy)
    return out
