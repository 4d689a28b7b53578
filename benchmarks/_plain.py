"""Plain NumPy implementations written for the benchmarks: the straightforward way, same rule as rtdetect.

Same semantics as ``rtdetect.nms`` (stable score order, same-class IoU > threshold in float32) and the
decoders' docstrings, so kept sets can be compared exactly; no tricks for speed.
"""
from __future__ import annotations

import numpy as np


def plain_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_thres: float,
              max_det: int = 300) -> np.ndarray:
    """Greedy class-aware NMS, one kept box per loop step; kept indices (int64) in visiting order."""
    f32 = np.float32
    order = np.argsort(-scores, kind="stable")
    areas = np.maximum(f32(0), boxes[:, 2] - boxes[:, 0]) * np.maximum(f32(0), boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size and len(keep) < max_det:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(f32(0), np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]))
        h = np.maximum(f32(0), np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]))
        inter = w * h
        union = (areas[i] + areas[rest]) - inter
        iou = np.zeros_like(inter)
        np.divide(inter, union, out=iou, where=union > 0)
        order = rest[~((iou > f32(iou_thres)) & (class_ids[rest] == class_ids[i]))]
    return np.asarray(keep, dtype=np.int64)


def _xyxy(xywh: np.ndarray) -> np.ndarray:
    half = xywh[:, 2:4] * np.float32(0.5)
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)


def plain_decode_v8(prediction: np.ndarray, conf: float, nc: int):
    """(1, 4 + nc, N) → (xyxy, scores, class_ids): transpose, max and argmax over every column."""
    rows = prediction[0].T
    cls = rows[:, 4:4 + nc]
    ids = cls.argmax(axis=1)
    scores = cls.max(axis=1)
    keep = scores > np.float32(conf)
    return _xyxy(rows[keep, :4]), scores[keep], ids[keep].astype(np.int32)


def plain_decode_v5(prediction: np.ndarray, conf: float, nc: int):
    """(1, N, 5 + nc) → (xyxy, scores, class_ids): obj x best class score over every row."""
    rows = prediction[0]
    cls = rows[:, 5:5 + nc]
    ids = cls.argmax(axis=1)
    scores = rows[:, 4] * cls[np.arange(len(ids)), ids]
    keep = scores > np.float32(conf)
    return _xyxy(rows[keep, :4]), scores[keep], ids[keep].astype(np.int32)
