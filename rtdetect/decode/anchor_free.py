"""YOLOv8 / YOLO11 layout: (1, 4 + nc + nm, N), channels first: [cx, cy, w, h, class scores..., mask coefs...].

Boxes in input pixels, class scores already sigmoided, no objectness. A column's score is its best class
score (lowest id on ties); it passes if ``score > conf``.
"""
from __future__ import annotations

import numpy as np

from .base import Candidates, Decoder, require_batch_of_one, without_nan_boxes, xywh_to_xyxy


class AnchorFreeDecoder(Decoder):
    layout = "v8"

    def decode(self, prediction: np.ndarray, conf: float) -> Candidates:
        """prediction: (1, 4 + nc + nm, N) float32 (or float16) → candidates in input pixels."""
        channels = require_batch_of_one("YOLOv8", prediction, 3)
        nc, nm = self.num_classes, self.num_masks
        if channels.shape[0] != 4 + nc + nm:
            raise ValueError(f"YOLOv8 output has {channels.shape[0]} channels, expected 4 + {nc} + {nm}")
        class_scores = channels[4:4 + nc]
        # Reduce over classes on the contiguous (nc, N) block: far cheaper than transposing first. A NaN at
        # any class makes the max NaN, which never passes (the non-finite rule, base.py).
        best = class_scores.max(axis=0)
        columns = np.flatnonzero(best > np.float32(conf))
        picked = class_scores[:, columns]
        class_ids = picked.argmax(axis=0).astype(np.int32)
        boxes = xywh_to_xyxy(channels[:4, columns].T)
        coefs = channels[4 + nc:, columns].T.astype(np.float32) if nm else None
        return without_nan_boxes(Candidates(boxes, best[columns].astype(np.float32), class_ids, coefs))
