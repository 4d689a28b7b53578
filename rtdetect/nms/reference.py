"""The reference NMS: the plainest possible statement of the rule in ``rtdetect.nms`` (read its docstring).

Deliberately simple and slow (a Python loop over candidates); every faster implementation is tested
against this one.
"""
from __future__ import annotations

import numpy as np


def check_inputs(boxes, scores, class_ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert: boxes (N, 4) float32 xyxy, scores (N,) float32, class_ids (N,) int32."""
    boxes = np.ascontiguousarray(boxes, dtype=np.float32).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4), np.float32)
    scores = np.ascontiguousarray(scores, dtype=np.float32).reshape(-1)
    class_ids = np.ascontiguousarray(class_ids, dtype=np.int32).reshape(-1)
    if not (len(boxes) == len(scores) == len(class_ids)):
        raise ValueError(f"nms inputs disagree on N: boxes {boxes.shape}, scores {scores.shape}, class_ids {class_ids.shape}")
    return boxes, scores, class_ids


def iou_one_to_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU (float32) of one (4,) box with (M, 4) boxes, by the rule in ``rtdetect.nms``."""
    f32 = np.float32
    zero = f32(0)
    w = np.maximum(zero, np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]))
    h = np.maximum(zero, np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]))
    inter = (w * h).astype(f32)
    area_a = f32(max(zero, box[2] - box[0]) * max(zero, box[3] - box[1]))
    area_b = np.maximum(zero, others[:, 2] - others[:, 0]) * np.maximum(zero, others[:, 3] - others[:, 1])
    union = (area_a + area_b) - inter
    out = np.zeros(len(others), dtype=f32)
    positive = union > 0
    np.divide(inter, union, out=out, where=positive)
    return out


def nms(boxes, scores, class_ids, iou_thres: float, max_det: int = 300) -> np.ndarray:
    """Kept indices (int64, visiting order) of class-aware greedy NMS over N candidates."""
    boxes, scores, class_ids = check_inputs(boxes, scores, class_ids)
    order = np.argsort(-scores, kind="stable")
    thres = np.float32(iou_thres)
    kept: list[int] = []
    for i in order:
        if len(kept) >= max_det:
            break
        same = [k for k in kept if class_ids[k] == class_ids[i]]
        if same and np.any(iou_one_to_many(boxes[i], boxes[same]) > thres):
            continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)
