"""Annotators: each draws one thing onto a BGR uint8 image in place with one ``annotate`` method."""
from __future__ import annotations

import cv2
import numpy as np

from ..types import Detections
from .labels import LabelAnnotator
from .palette import class_color

__all__ = ["BoxAnnotator", "FpsAnnotator", "LabelAnnotator", "MASK_ALPHA", "MaskAnnotator"]

MASK_ALPHA = 0.45  # default mask opacity (the GPU path paints with it on the device)


def _thickness(image: np.ndarray) -> int:
    return max(1, round(sum(image.shape[:2]) / 2 / 400))


class BoxAnnotator:
    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        t = _thickness(image)
        for (x1, y1, x2, y2), cid in zip(detections.xyxy.astype(int), detections.class_ids):
            cv2.rectangle(image, (x1, y1), (x2, y2), class_color(cid), t, cv2.LINE_AA)
        return image


class MaskAnnotator:
    """Translucent class-coloured masks: ``out = round((1 - alpha) * image + alpha * colour)`` on mask pixels
    (float32 maths), masks painted in detection order.

    Works inside each mask's crop only, so the cost follows the objects, not the frame: the blend of every
    possible byte value is tabulated once per colour and applied with a lookup, then copied where the crop is set
    (OpenCV for both: a NumPy boolean gather/scatter costs several times more).
    """

    def __init__(self, alpha: float = MASK_ALPHA) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"mask alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha
        self._tables: dict[tuple[int, int, int], np.ndarray] = {}

    def table(self, color: tuple[int, int, int]) -> np.ndarray:
        """(1, 256, 3) uint8: the blend of each byte value with ``color``'s channels (BGR)."""
        if color not in self._tables:
            values = np.arange(256, dtype=np.float32)[:, None]
            blended = values * np.float32(1 - self.alpha) + np.asarray(color, np.float32) * np.float32(self.alpha)
            self._tables[color] = np.round(blended).astype(np.uint8).reshape(1, 256, 3)
        return self._tables[color]

    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        masks = detections.masks
        if masks is None or len(detections) == 0:
            return image
        if masks.frame_hw != image.shape[:2]:
            raise ValueError(f"masks are for {masks.frame_hw} frames, the image is {image.shape[:2]}")
        for crop, (x0, y0), class_id in zip(masks.crops, masks.offsets, detections.class_ids):
            if crop.size == 0:
                continue
            region = image[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]]
            # region is a view of image with the crop's shape: cv2.copyTo writes into it in place
            cv2.copyTo(cv2.LUT(region, self.table(class_color(class_id))), crop.view(np.uint8), region)
        return image


class FpsAnnotator:
    def annotate(self, image: np.ndarray, fps: float) -> np.ndarray:
        t = _thickness(image)
        text = f"{fps:.1f} FPS"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, t / 2.5, t)
        cv2.rectangle(image, (0, 0), (w + 8, h + base + 8), (0, 0, 0), -1)
        cv2.putText(image, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, t / 2.5, (0, 255, 0), t, cv2.LINE_AA)
        return image
