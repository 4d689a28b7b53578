"""The CPU NMS the pipeline uses: the same rule as ``reference.nms``, vectorised per kept box.

Each step keeps the best remaining candidate and drops, in one NumPy pass, every remaining candidate of its
class that it overlaps with IoU > threshold; the loop runs once per *kept* box, not per candidate.
"""
from __future__ import annotations

import numpy as np

from .reference import check_inputs, iou_one_to_many


def nms(boxes, scores, class_ids, iou_thres: float, max_det: int = 300) -> np.ndarray:
    """Kept indices (int64, visiting order); see ``rtdetect.nms`` for the exact rule and tie-break."""
    boxes, scores, class_ids = check_inputs(boxes, scores, class_ids)
    if len(scores) == 0 or max_det <= 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    boxes, class_ids = boxes[order], class_ids[order]
    thres = np.float32(iou_thres)
    remaining = np.arange(len(order))
    kept: list[int] = []
    while remaining.size and len(kept) < max_det:
        best, rest = remaining[0], remaining[1:]
        kept.append(best)
        same_class = class_ids[rest] == class_ids[best]
        if not same_class.any():
            remaining = rest
            continue
        suppressed = np.zeros(rest.size, dtype=bool)
        suppressed[same_class] = iou_one_to_many(boxes[best], boxes[rest[same_class]]) > thres
        remaining = rest[~suppressed]
    return order[np.asarray(kept, dtype=np.int64)]
