"""Label tags ("name 0.87" on a filled box): sized to the frame, kept inside it, and placed so that
they cover each other as little as possible.

Text is about 2.5 % of the frame's shorter side tall (at least 7 px, still legible), so tags shrink and
grow with the frame, from a 320x240 stream (where a 12 px floor made tags hide the objects they name) to 4K. Tags are placed in score order (the best detection gets the best place); each
takes the first of these spots that lies inside the frame without covering a tag placed before it:
above the box, inside its top, below it, inside its bottom. When every spot is taken the one covering
least wins. Spots are shifted horizontally and vertically to stay inside the frame.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..types import Detections
from .palette import class_color

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_TEXT_PX = 7
TEXT_FRACTION = 0.025
PAD = 2


def text_style(height: int, width: int) -> tuple[float, int]:
    """(font scale, stroke thickness) for a ``height`` x ``width`` frame (see the module doc)."""
    target = max(MIN_TEXT_PX, TEXT_FRACTION * min(height, width))
    (_, unit), _ = cv2.getTextSize("Hg", FONT, 1.0, 1)
    scale = target / unit
    return scale, max(1, round(scale * 1.5))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _inside(x: int, y: int, w: int, h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The ``w`` x ``h`` rectangle at (x, y) shifted to lie inside the frame (as far as it fits)."""
    x = max(0, min(x, width - w))
    y = max(0, min(y, height - h))
    return x, y, x + w, y + h


def place_tags(sizes: Sequence[tuple[int, int]], boxes: np.ndarray, order: Sequence[int], height: int,
               width: int) -> list[tuple[int, int, int, int]]:
    """Tag rectangles (x1, y1, x2, y2), int pixels, one per box: ``sizes`` (w, h) per tag, ``boxes``
    (N, 4) xyxy, ``order`` the placement order (best first)."""
    placed: list[tuple[int, int, int, int] | None] = [None] * len(sizes)
    taken: list[tuple[int, int, int, int]] = []
    for i in order:
        (w, h), (x1, y1, _, y2) = sizes[i], boxes[i]
        spots = [_inside(x1, y - dy, w, h, width, height) for y, dy in ((y1, h), (y1, 0), (y2, 0), (y2, h))]
        cover = [sum(_overlap(s, t) for t in taken) for s in spots]
        best = spots[int(np.argmin(cover))]
        placed[i] = best
        taken.append(best)
    return placed


class LabelAnnotator:
    """"name 0.87" ("#7 name 0.87" for a tracked object) on a filled tag per detection, laid out as the
    module doc says."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def label(self, class_id: int, score: float, track_id: int | None = None) -> str:
        name = self.names[class_id] if 0 <= class_id < len(self.names) else str(class_id)
        return f"{name} {score:.2f}" if track_id is None else f"#{track_id} {name} {score:.2f}"

    def layout(self, shape: tuple[int, ...], detections: Detections) -> list[tuple[str, tuple[int, int, int, int]]]:
        """(text, tag rectangle) per detection, in detection order, for a frame of ``shape`` (H, W, ...)."""
        height, width = shape[:2]
        scale, thickness = text_style(height, width)
        track_ids = detections.track_ids if detections.track_ids is not None else [None] * len(detections)
        texts = [self.label(int(c), float(s), None if t is None else int(t))
                 for c, s, t in zip(detections.class_ids, detections.scores, track_ids)]
        sizes = []
        for text in texts:
            (w, h), base = cv2.getTextSize(text, FONT, scale, thickness)
            sizes.append((w + 2 * PAD, h + base + 2 * PAD))
        order = np.argsort(-np.asarray(detections.scores), kind="stable")
        boxes = np.round(detections.xyxy).astype(int)
        return list(zip(texts, place_tags(sizes, boxes, order, height, width)))

    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        scale, thickness = text_style(*image.shape[:2])
        for (text, (x1, y1, x2, y2)), cid in zip(self.layout(image.shape, detections), detections.class_ids):
            cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), class_color(cid), -1)
            (_, h), _ = cv2.getTextSize(text, FONT, scale, thickness)
            cv2.putText(image, text, (x1 + PAD, y1 + PAD + h), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
        return image
