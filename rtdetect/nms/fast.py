"""The CPU NMS the pipeline uses: the same rule as ``reference.nms`` (see ``rtdetect.nms``), vectorised.

Candidates are put in score order and walked in blocks of ``BLOCK`` (like the 64-box tiles of the CUDA
kernel, larger here because NumPy calls are what cost). Within a block the whole "suppresses" relation is
an (B, B) matrix and the greedy walk visits only the rows that suppress anything; the block's kept boxes
then strike out, in one pass, every later candidate they suppress. The walk ends once ``max_det`` boxes
are kept, so a flood of 30 000 candidates costs a few blocks, not 30 000 steps. The usual case after the
confidence threshold (a few hundred candidates at most) is a single block, taken without the block
bookkeeping. Beyond ``PER_CLASS_ABOVE`` candidates they are split by class first (classes never
interact), so the pairwise work covers same-class pairs only.

Boxes are held as coordinate rows (4, N) so that every pairwise operation is one ``ufunc.outer`` call on
contiguous rows. The float32 operations are those of ``reference.iou_one_to_many``, in the same order.
"""
from __future__ import annotations

import numpy as np

from ..boxes import row_areas, row_intersections
from .reference import check_inputs

BLOCK = 256
COLUMN_CHUNK = 4096  # bounds the (B, M) temporaries when striking out later candidates
PER_CLASS_ABOVE = 2048  # measured: per-class splitting pays from ~3000 candidates, costs below ~1000
_ZERO = np.float32(0)


def _suppression(a: np.ndarray, a_cls: np.ndarray, b: np.ndarray, b_cls: np.ndarray, thres: np.float32) -> np.ndarray:
    """(A, B) bool: box a suppresses box b (same class, IoU > thres); a, b are (4, n) coordinate rows.

    For thres >= 0 the IoU is a plain division: a non-positive union only happens for two zero-area
    boxes (inter = 0, so 0 / 0 = NaN), and NaN > thres is False, exactly like the rule's IoU of 0.
    """
    inter = row_intersections(a, b)
    union = np.add.outer(row_areas(a), row_areas(b))
    union -= inter
    if thres >= 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(inter, union, out=union)
        hit = union > thres
    else:
        iou = np.zeros_like(inter)
        np.divide(inter, union, out=iou, where=union > 0)
        hit = iou > thres
    hit &= np.equal.outer(a_cls, b_cls)
    return hit


def _greedy_block(coords: np.ndarray, class_ids: np.ndarray, thres: np.float32) -> np.ndarray:
    """Kept positions of one block of boxes ((4, n) coordinate rows) in score order, all of them live."""
    suppresses = _suppression(coords, class_ids, coords, class_ids, thres)
    position = np.arange(len(class_ids))
    suppresses &= np.less.outer(position, position)  # only later (lower-scored) boxes; cheaper than np.triu
    rows = np.flatnonzero(suppresses.any(axis=1))  # a row that suppresses nothing changes nothing
    if rows.size == 0:
        return position
    removed = np.zeros(len(class_ids), dtype=bool)
    for i in rows.tolist():
        if not removed[i]:
            removed |= suppresses[i]
    return np.flatnonzero(~removed)


def _strike_out(kept_coords, kept_cls, coords, class_ids, removed, start, thres) -> None:
    """Mark every live candidate at position >= start that a kept box suppresses."""
    for lo in range(start, len(class_ids), COLUMN_CHUNK):
        live = lo + np.flatnonzero(~removed[lo:lo + COLUMN_CHUNK])
        if live.size:
            hit = _suppression(kept_coords, kept_cls, coords[:, live], class_ids[live], thres).any(axis=0)
            removed[live[hit]] = True


def _blocks(coords: np.ndarray, class_ids: np.ndarray, thres: np.float32, max_det: int) -> np.ndarray:
    """Kept positions (in score order) of more than one block of candidates."""
    removed = np.zeros(len(class_ids), dtype=bool)
    kept: list[np.ndarray] = []
    count = 0
    for start in range(0, len(class_ids), BLOCK):
        live = start + np.flatnonzero(~removed[start:start + BLOCK])
        if live.size == 0:
            continue
        block_kept = live[_greedy_block(coords[:, live], class_ids[live], thres)][:max_det - count]
        kept.append(block_kept)
        count += len(block_kept)
        if count >= max_det:
            break
        _strike_out(coords[:, block_kept], class_ids[block_kept], coords, class_ids, removed, start + BLOCK, thres)
    return np.concatenate(kept)


def nms(boxes, scores, class_ids, iou_thres: float, max_det: int = 300) -> np.ndarray:
    """Kept indices (int64, visiting order); see ``rtdetect.nms`` for the exact rule and tie-break."""
    boxes, scores, class_ids = check_inputs(boxes, scores, class_ids)
    if len(scores) == 0 or max_det <= 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    coords, class_ids, thres = np.ascontiguousarray(boxes[order].T), class_ids[order], np.float32(iou_thres)
    if len(order) <= BLOCK:
        kept = _greedy_block(coords, class_ids, thres)[:max_det]
    elif len(order) <= PER_CLASS_ABOVE:
        kept = _blocks(coords, class_ids, thres, max_det)
    else:
        kept = _per_class(coords, class_ids, thres, max_det)
    return order[kept].astype(np.int64)


def _per_class(coords: np.ndarray, class_ids: np.ndarray, thres: np.float32, max_det: int) -> np.ndarray:
    """Kept positions (in score order) of many candidates, one class at a time.

    Boxes of different classes never suppress each other, so the kept set is the union of each class's
    own greedy result; with the cap, the first ``max_det`` of that union in score order. A class never
    contributes more than ``max_det``, so each class's walk stops there too. Pairwise work shrinks from
    all pairs to same-class pairs.
    """
    by_class = np.argsort(class_ids, kind="stable")  # positions grouped by class, score order within
    starts = np.flatnonzero(np.diff(class_ids[by_class])) + 1
    kept = []
    for group in np.split(by_class, starts):
        if len(group) <= BLOCK:
            local = _greedy_block(coords[:, group], class_ids[group], thres)[:max_det]
        else:
            local = _blocks(coords[:, group], class_ids[group], thres, max_det)
        kept.append(group[local])
    return np.sort(np.concatenate(kept))[:max_det]
