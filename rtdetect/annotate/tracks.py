"""Annotators for tracking: short trails behind each track, and count lines with their running counts."""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from ..types import Detections
from .palette import class_color


class TraceAnnotator:
    """A polyline through each track's last ``length`` bottom-centre points, in its track's colour.

    Keeps the points it has seen (per instance: one renderer per run); tracks unseen for ``length``
    frames are forgotten."""

    def __init__(self, length: int = 30) -> None:
        self.length = length
        self._points: dict[int, deque] = {}
        self._last_seen: dict[int, int] = {}
        self._frame = 0

    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        self._frame += 1
        if detections.track_ids is None:
            return image
        thickness = max(1, round(sum(image.shape[:2]) / 2 / 400))
        for (x1, _, x2, y2), tid in zip(detections.xyxy, detections.track_ids):
            tid = int(tid)
            points = self._points.setdefault(tid, deque(maxlen=self.length))
            points.append((int(round((x1 + x2) / 2)), int(round(y2))))
            self._last_seen[tid] = self._frame
            if len(points) > 1:
                cv2.polylines(image, [np.array(points, np.int32)], False, class_color(tid), thickness, cv2.LINE_AA)
        for tid in [t for t, seen in self._last_seen.items() if self._frame - seen > self.length]:
            del self._points[tid], self._last_seen[tid]
        return image


class LineCountAnnotator:
    """Each count line, with "in N / out M" (all classes) beside its first point."""

    def annotate(self, image: np.ndarray, counts: list[dict]) -> np.ndarray:
        thickness = max(1, round(sum(image.shape[:2]) / 2 / 400))
        for entry in counts:
            x1, y1, x2, y2 = (int(round(v)) for v in entry["line"])
            cv2.line(image, (x1, y1), (x2, y2), (0, 255, 255), thickness + 1, cv2.LINE_AA)
            text = f"in {sum(entry['in'].values())} / out {sum(entry['out'].values())}"
            scale = thickness / 2.5
            (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
            x = min(max(0, x1), max(0, image.shape[1] - w - 4))
            y = min(max(h + base + 4, y1), image.shape[0] - 1)
            cv2.rectangle(image, (x, y - h - base - 4), (x + w + 4, y), (0, 0, 0), -1)
            cv2.putText(image, text, (x + 2, y - base - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 255, 255),
                        thickness, cv2.LINE_AA)
        return image
