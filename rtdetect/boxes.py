"""Box geometry shared by the stages (NMS, tracking): float32 IoU with one fixed operation order.

Boxes are xyxy in pixels. Pairwise functions take coordinate rows (4, N) so that every operation is one
``ufunc.outer`` over contiguous rows; the order of float32 operations is that of
``rtdetect.nms.reference.iou_one_to_many``, so results are bit-identical to the NMS reference.
"""
from __future__ import annotations

import numpy as np

_ZERO = np.float32(0)


def row_areas(c: np.ndarray) -> np.ndarray:
    """(N,) float32 areas of (4, N) coordinate rows x1, y1, x2, y2 (negative extents count as 0)."""
    return np.maximum(_ZERO, c[2] - c[0]) * np.maximum(_ZERO, c[3] - c[1])


def row_intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) float32 intersection areas of (4, A) and (4, B) coordinate rows."""
    w = np.minimum.outer(a[2], b[2])
    w -= np.maximum.outer(a[0], b[0])
    np.maximum(w, _ZERO, out=w)
    h = np.minimum.outer(a[3], b[3])
    h -= np.maximum.outer(a[1], b[1])
    np.maximum(h, _ZERO, out=h)
    w *= h
    return w


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) float32 IoU of (A, 4) and (B, 4) xyxy boxes; 0 where the union is empty."""
    ac = np.ascontiguousarray(np.asarray(a, dtype=np.float32).reshape(-1, 4).T)
    bc = np.ascontiguousarray(np.asarray(b, dtype=np.float32).reshape(-1, 4).T)
    inter = row_intersections(ac, bc)
    union = np.add.outer(row_areas(ac), row_areas(bc)) - inter
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou
