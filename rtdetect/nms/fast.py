"""The CPU NMS the pipeline uses: the same rule as ``reference.nms`` (see ``rtdetect.nms``), vectorised.

Candidates are put in score order and walked in blocks of ``BLOCK`` (like the 64-box tiles of the CUDA
kernel, larger here because NumPy calls are what cost). Within a block the whole "suppresses" relation is
an (B, B) matrix and the greedy walk visits only the rows that suppress anything; the block's kept boxes
then strike out, in one pass, every later candidate they suppress. The walk ends once ``max_det`` boxes
are kept, so a flood of 30 000 candidates costs a few blocks, not 30 000 steps. The usual case after the
confidence threshold (a few hundred candidates at most) is a single block.
"""
from __future__ import annotations

import numpy as np

from .reference import check_inputs

BLOCK = 256
COLUMN_CHUNK = 4096  # bounds the (B, M) temporaries when striking out later candidates


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) float32 IoU of (A, 4) and (B, 4) boxes, with the operation order of ``reference.iou_one_to_many``."""
    zero = np.float32(0)
    w = np.maximum(zero, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    h = np.maximum(zero, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = w * h
    area_a = np.maximum(zero, a[:, 2] - a[:, 0]) * np.maximum(zero, a[:, 3] - a[:, 1])
    area_b = np.maximum(zero, b[:, 2] - b[:, 0]) * np.maximum(zero, b[:, 3] - b[:, 1])
    union = (area_a[:, None] + area_b[None, :]) - inter
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou


def _suppression(a_boxes, a_cls, b_boxes, b_cls, thres) -> np.ndarray:
    """(A, B) bool: box a suppresses box b (same class, IoU > thres)."""
    return (pairwise_iou(a_boxes, b_boxes) > thres) & (a_cls[:, None] == b_cls[None, :])


def _greedy_block(boxes: np.ndarray, class_ids: np.ndarray, thres: np.float32) -> np.ndarray:
    """Kept positions of one block of boxes in score order, all of them live."""
    n = len(boxes)
    suppresses = _suppression(boxes, class_ids, boxes, class_ids, thres)
    suppresses &= np.triu(np.ones((n, n), dtype=bool), k=1)  # only later (lower-scored) boxes
    removed = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(suppresses.any(axis=1)):  # a row that suppresses nothing changes nothing
        if not removed[i]:
            removed |= suppresses[i]
    return np.flatnonzero(~removed)


def _strike_out(kept_boxes, kept_cls, boxes, class_ids, removed, start, thres) -> None:
    """Mark every live candidate at position >= start that a kept box suppresses."""
    for lo in range(start, len(boxes), COLUMN_CHUNK):
        live = lo + np.flatnonzero(~removed[lo:lo + COLUMN_CHUNK])
        if live.size:
            hit = _suppression(kept_boxes, kept_cls, boxes[live], class_ids[live], thres).any(axis=0)
            removed[live[hit]] = True


def nms(boxes, scores, class_ids, iou_thres: float, max_det: int = 300) -> np.ndarray:
    """Kept indices (int64, visiting order); see ``rtdetect.nms`` for the exact rule and tie-break."""
    boxes, scores, class_ids = check_inputs(boxes, scores, class_ids)
    if len(scores) == 0 or max_det <= 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    boxes, class_ids, thres = boxes[order], class_ids[order], np.float32(iou_thres)
    removed = np.zeros(len(order), dtype=bool)
    kept: list[np.ndarray] = []
    count = 0
    for start in range(0, len(order), BLOCK):
        live = start + np.flatnonzero(~removed[start:start + BLOCK])
        if live.size == 0:
            continue
        block_kept = live[_greedy_block(boxes[live], class_ids[live], thres)][:max_det - count]
        kept.append(block_kept)
        count += len(block_kept)
        if count >= max_det:
            break
        _strike_out(boxes[block_kept], class_ids[block_kept], boxes, class_ids, removed, start + BLOCK, thres)
    return order[np.concatenate(kept)].astype(np.int64)
