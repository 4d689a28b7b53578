"""Shared test helpers: frames from tests/data and detection matching by IoU."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rtdetect.types import Detections


def video_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy → (N, M) IoU."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda z: np.prod(np.clip(z[:, 2:] - z[:, :2], 0, None), axis=1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match(reference: Detections, candidate: Detections, iou: float = 0.5):
    """Greedy one-to-one match of ``candidate`` to ``reference`` (same class, IoU > ``iou``), best score first.
    Returns (matched count, score deltas reference - candidate, max box corner error in px)."""
    if len(reference) == 0 or len(candidate) == 0:
        return 0, np.zeros(0, np.float32), 0.0
    overlap = iou_matrix(reference.xyxy, candidate.xyxy)
    overlap[reference.class_ids[:, None] != candidate.class_ids[None, :]] = 0
    used, deltas, errors = set(), [], [0.0]
    for i in np.argsort(-reference.scores, kind="stable"):
        order = [j for j in np.argsort(-overlap[i]) if j not in used and overlap[i, j] > iou]
        if order:
            j = order[0]
            used.add(j)
            deltas.append(reference.scores[i] - candidate.scores[j])
            errors.append(float(np.abs(reference.xyxy[i] - candidate.xyxy[j]).max()))
    return len(used), np.asarray(deltas, np.float32), max(errors)
