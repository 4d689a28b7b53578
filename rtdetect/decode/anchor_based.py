"""YOLOv5 layout: (1, N, 5 + nc + nm) rows of [cx, cy, w, h, objectness, class scores..., mask coefs...].

Boxes are in input pixels (the anchors and grid are already applied inside the model), objectness and
class scores already sigmoided. A row's score is ``objectness * class_score`` of its best class, where the
best class is the argmax of the class scores (lowest id on ties); it passes if ``score > conf``.
"""
from __future__ import annotations

import numpy as np

from .base import Candidates, Decoder, best_class, require_batch_of_one, without_nan_boxes, xywh_to_xyxy


class AnchorBasedDecoder(Decoder):
    layout = "v5"

    def decode(self, prediction: np.ndarray, conf: float) -> Candidates:
        """prediction: (1, N, 5 + nc + nm) float32 (or float16) → candidates in input pixels."""
        rows = require_batch_of_one("YOLOv5", prediction, 3)
        nc, nm = self.num_classes, self.num_masks
        if rows.shape[1] != 5 + nc + nm:
            raise ValueError(f"YOLOv5 rows have {rows.shape[1]} values, expected 5 + {nc} + {nm}")
        conf32 = np.float32(conf)
        # score = obj * cls <= obj, so rows with objectness <= conf can never pass: drop them first.
        # (Indices + take: a boolean mask over the 2-D rows costs several times more.)
        rows = rows.take(np.flatnonzero(rows[:, 4] > conf32), axis=0).astype(np.float32, copy=False)
        cls_scores, class_ids = best_class(rows[:, 5:5 + nc])  # argmax stops at a NaN: the score is NaN
        scores = rows[:, 4] * cls_scores
        passed = scores > conf32
        rows = rows[passed]
        coefs = rows[:, 5 + nc:] if nm else None
        return without_nan_boxes(Candidates(xywh_to_xyxy(rows[:, :4]), scores[passed], class_ids[passed], coefs))
