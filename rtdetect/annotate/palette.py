"""Stable per-class colours: class k always gets the same BGR colour, in every frame and every run."""
from __future__ import annotations

import numpy as np

# 20 well-separated hues (BGR), cycled for class ids beyond 20 (read-only; the GPU path paints with it too).
PALETTE_BGR = np.array([
    (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
    (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
    (147, 69, 52), (255, 115, 100), (236, 24, 0), (255, 56, 132), (133, 0, 82), (255, 56, 203),
    (200, 149, 255), (199, 55, 255),
], dtype=np.uint8)
PALETTE_BGR.flags.writeable = False


def class_color(class_id: int) -> tuple[int, int, int]:
    """BGR colour of a class id as a tuple of ints (what cv2 drawing calls take)."""
    return tuple(int(c) for c in PALETTE_BGR[int(class_id) % len(PALETTE_BGR)])


def class_colors(class_ids: np.ndarray) -> np.ndarray:
    """(N,) class ids → (N, 3) uint8 BGR colours."""
    return PALETTE_BGR[np.asarray(class_ids, dtype=np.int64) % len(PALETTE_BGR)]
