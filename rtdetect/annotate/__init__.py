"""Annotation (``rtdetect.render`` is the public function built on it): masks, boxes, labels and an FPS overlay composed onto a copy of the frame."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..types import EXTRA_LINE_COUNTS, Detections
from .annotators import MASK_ALPHA, BoxAnnotator, FpsAnnotator, LabelAnnotator, MaskAnnotator
from .palette import PALETTE_BGR, class_color, class_colors
from .tracks import LineCountAnnotator, TraceAnnotator


class Renderer:
    """``render(image, detections, fps=None)`` → annotated copy (H, W, 3) uint8 BGR.

    ``painted``: the frame with exactly these detections' masks already painted (the GPU path, with this
    palette and ``MASK_ALPHA``; (H, W, 3) uint8 BGR): drawing starts from it and the masks are not painted
    again."""

    def __init__(self, names: Sequence[str], *, mask_alpha: float = MASK_ALPHA) -> None:
        self.masks = MaskAnnotator(mask_alpha)
        self.boxes = BoxAnnotator()
        self.labels = LabelAnnotator(names)
        self.fps = FpsAnnotator()
        self.traces = TraceAnnotator()
        self.line_counts = LineCountAnnotator()

    def render(self, image: np.ndarray, detections: Detections, fps: float | None = None, *,
               painted: np.ndarray | None = None) -> np.ndarray:
        if self.masks.alpha != MASK_ALPHA:
            painted = None
        if painted is None:
            canvas = image.copy()
            self.masks.annotate(canvas, detections)
        elif painted.shape != image.shape:
            raise ValueError(f"the painted frame is {painted.shape}, the image {image.shape}")
        else:
            canvas = painted.copy()
        self.boxes.annotate(canvas, detections)
        self.labels.annotate(canvas, detections)
        self.traces.annotate(canvas, detections)
        if EXTRA_LINE_COUNTS in detections.extra:
            self.line_counts.annotate(canvas, detections.extra[EXTRA_LINE_COUNTS])
        if fps is not None:
            self.fps.annotate(canvas, fps)
        return canvas


__all__ = ["BoxAnnotator", "FpsAnnotator", "LabelAnnotator", "LineCountAnnotator", "MASK_ALPHA", "MaskAnnotator",
           "PALETTE_BGR", "Renderer", "TraceAnnotator", "class_color", "class_colors"]
