"""End-to-end (NMS-free, YOLOv10-style) layout: (1, K, 6 + nm) rows of [x1, y1, x2, y2, score, class, coefs...].

The model already selected its top K; rows pass if ``score > conf`` and their class lies in [0, nc) (then
truncated toward zero; see the non-finite rule in base.py). The pipeline skips NMS for this layout.
"""
from __future__ import annotations

import numpy as np

from .base import Candidates, Decoder, require_batch_of_one, without_nan_boxes


class EndToEndDecoder(Decoder):
    layout = "e2e"
    needs_nms = False

    def decode(self, prediction: np.ndarray, conf: float) -> Candidates:
        """prediction: (1, K, 6 + nm) → candidates in input pixels, in the model's order."""
        rows = require_batch_of_one("end-to-end", prediction, 3)
        if rows.shape[1] != 6 + self.num_masks:
            raise ValueError(f"end-to-end rows have {rows.shape[1]} values, expected 6 + {self.num_masks}")
        classes = rows[:, 5]
        passed = (rows[:, 4] > np.float32(conf)) & (classes >= 0) & (classes < self.num_classes)
        rows = rows[passed].astype(np.float32, copy=False)
        coefs = rows[:, 6:] if self.num_masks else None
        candidates = Candidates(rows[:, :4].copy(), rows[:, 4].copy(), rows[:, 5].astype(np.int32), coefs)
        return without_nan_boxes(candidates)
