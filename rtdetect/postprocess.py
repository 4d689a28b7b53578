"""Raw model outputs → ``Detections`` in frame pixels: decode, class filter, NMS, box mapping, masks."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .decode import Candidates, Decoder, OutputRoles
from .errors import ModelError
from .masks import process_masks
from .nms import nms
from .types import Detections, Letterbox


@dataclass(frozen=True)
class PostprocessConfig:
    """conf: score threshold (strict >); iou: NMS IoU threshold; max_det: kept boxes per frame;
    classes: class ids to keep (None = all); max_candidates: best-scoring candidates NMS looks at;
    masks: compute instance masks when the model has them."""

    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 300
    classes: tuple[int, ...] | None = None
    max_candidates: int = 30000
    masks: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {self.conf}")
        if not 0.0 <= self.iou <= 1.0:
            raise ValueError(f"iou must be in [0, 1], got {self.iou}")
        if self.max_det < 1:
            raise ValueError(f"max_det must be >= 1, got {self.max_det}")


class Postprocessor:
    """Callable ``(outputs, letterbox) -> (Detections, timings)``; timings in seconds for
    ``decode_nms`` and ``masks``."""

    def __init__(self, decoder: Decoder, roles: OutputRoles, names: list[str], config: PostprocessConfig) -> None:
        if config.classes is not None:
            bad = [c for c in config.classes if not 0 <= c < decoder.num_classes]
            if bad:
                raise ModelError(f"--classes {bad} out of range: the model has {decoder.num_classes} classes (0-{decoder.num_classes - 1})")
        self.decoder, self.roles, self.names, self.config = decoder, roles, names, config
        self.has_masks = roles.protos is not None and decoder.num_masks > 0 and config.masks
        self._class_filter = None if config.classes is None else np.asarray(sorted(set(config.classes)), np.int32)

    def select(self, outputs: list[np.ndarray]) -> Candidates:
        """Decode, filter classes and keep the NMS survivors (in input pixels)."""
        cfg = self.config
        candidates = self.decoder.decode(outputs[self.roles.prediction], cfg.conf)
        if self._class_filter is not None:
            candidates = candidates.take(np.isin(candidates.class_ids, self._class_filter))
        if len(candidates) > cfg.max_candidates:
            top = np.argpartition(-candidates.scores, cfg.max_candidates - 1)[:cfg.max_candidates]
            candidates = candidates.take(np.sort(top))  # keep original order so ties still break by index
        if self.decoder.needs_nms:
            return candidates.take(nms(candidates.xyxy, candidates.scores, candidates.class_ids, cfg.iou, cfg.max_det))
        return candidates.take(np.argsort(-candidates.scores, kind="stable")[:cfg.max_det])

    def __call__(self, outputs: list[np.ndarray], letterbox: Letterbox) -> tuple[Detections, dict[str, float]]:
        start = time.perf_counter()
        kept = self.select(outputs)
        boxes = letterbox.to_original(kept.xyxy)
        decoded = time.perf_counter()
        masks = None
        if self.has_masks:
            protos = outputs[self.roles.protos][0]
            masks = process_masks(kept.mask_coefs, protos, boxes, letterbox)
        done = time.perf_counter()
        detections = Detections(boxes, kept.scores, kept.class_ids, masks)
        return detections, {"decode_nms": decoded - start, "masks": done - decoded}
