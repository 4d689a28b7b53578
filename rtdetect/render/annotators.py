"""Annotators: each draws one thing onto a BGR uint8 image in place with one ``annotate`` method."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..types import Detections
from .palette import class_color, class_colors


def _thickness(image: np.ndarray) -> int:
    return max(1, round(sum(image.shape[:2]) / 2 / 400))


class BoxAnnotator:
    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        t = _thickness(image)
        for (x1, y1, x2, y2), cid in zip(detections.xyxy.astype(int), detections.class_ids):
            cv2.rectangle(image, (x1, y1), (x2, y2), class_color(cid), t, cv2.LINE_AA)
        return image


class LabelAnnotator:
    """"name 0.87" on a filled tag above each box (inside it when the box touches the top edge)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def label(self, class_id: int, score: float, track_id: int | None = None) -> str:
        name = self.names[class_id] if 0 <= class_id < len(self.names) else str(class_id)
        return f"{name} {score:.2f}" if track_id is None else f"#{track_id} {name} {score:.2f}"

    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        t = _thickness(image)
        font_scale = t / 3
        track_ids = detections.track_ids if detections.track_ids is not None else [None] * len(detections)
        for (x1, y1, _, _), score, cid, tid in zip(detections.xyxy.astype(int), detections.scores,
                                                   detections.class_ids, track_ids):
            text = self.label(int(cid), float(score), None if tid is None else int(tid))
            (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, t - 1))
            top = y1 - h - base - 2 if y1 - h - base - 2 >= 0 else y1
            cv2.rectangle(image, (x1, top), (x1 + w + 2, top + h + base + 2), class_color(cid), -1)
            cv2.putText(image, text, (x1 + 1, top + h + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                        max(1, t - 1), cv2.LINE_AA)
        return image


class MaskAnnotator:
    """Translucent class-coloured masks: ``out = (1 - alpha) * image + alpha * colour`` on mask pixels.

    Blends only inside each mask's bounding rows/columns, so the cost follows the objects, not the frame.
    """

    def __init__(self, alpha: float = 0.45) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"mask alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha

    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        if detections.masks is None or len(detections) == 0:
            return image
        colors = class_colors(detections.class_ids).astype(np.float32)
        for mask, color in zip(detections.masks, colors):
            rows = np.flatnonzero(mask.any(axis=1))
            if rows.size == 0:
                continue
            cols = np.flatnonzero(mask.any(axis=0))
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            region, inside = image[r0:r1, c0:c1], mask[r0:r1, c0:c1]
            blended = region[inside].astype(np.float32) * (1 - self.alpha) + color * self.alpha
            region[inside] = np.round(blended).astype(np.uint8)
        return image


class FpsAnnotator:
    def annotate(self, image: np.ndarray, fps: float) -> np.ndarray:
        t = _thickness(image)
        text = f"{fps:.1f} FPS"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, t / 2.5, t)
        cv2.rectangle(image, (0, 0), (w + 8, h + base + 8), (0, 0, 0), -1)
        cv2.putText(image, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, t / 2.5, (0, 255, 0), t, cv2.LINE_AA)
        return image
