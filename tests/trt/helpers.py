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


def pairs(reference: Detections, candidate: Detections, iou: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one (reference index, candidate index) pairs: same class, IoU > ``iou``, best
    reference score first, each taking its highest-IoU free candidate."""
    if len(reference) == 0 or len(candidate) == 0:
        return []
    overlap = iou_matrix(reference.xyxy, candidate.xyxy)
    overlap[reference.class_ids[:, None] != candidate.class_ids[None, :]] = 0
    used, found = set(), []
    for i in np.argsort(-reference.scores, kind="stable"):
        free = [j for j in np.argsort(-overlap[i]) if j not in used and overlap[i, j] > iou]
        if free:
            used.add(free[0])
            found.append((int(i), int(free[0])))
    return found


def match(reference: Detections, candidate: Detections, iou: float = 0.5):
    """(matched count, score deltas reference - candidate, max box corner error in px) over ``pairs``."""
    found = pairs(reference, candidate, iou)
    deltas = np.asarray([reference.scores[i] - candidate.scores[j] for i, j in found], np.float32)
    errors = [float(np.abs(reference.xyxy[i] - candidate.xyxy[j]).max()) for i, j in found]
    return len(found), deltas, max(errors, default=0.0)


def unmatched_scores(reference: Detections, candidate: Detections, iou: float = 0.5):
    """Scores of the reference and candidate detections that ``pairs`` left unmatched."""
    found = pairs(reference, candidate, iou)
    ref_left = np.setdiff1d(np.arange(len(reference)), [i for i, _ in found])
    cand_left = np.setdiff1d(np.arange(len(candidate)), [j for _, j in found])
    return reference.scores[ref_left], candidate.scores[cand_left]
