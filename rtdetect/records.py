"""The JSONL record of one frame's detections: the schema ``--json`` writes and the API reads back.

``to_record(detections, names)`` gives ``{"detections": [{"box", "score", "class_id", "label"[, "track_id"]
[, "mask"]}][, "counts"]}``; ``from_record(line)`` is its inverse. The whole line (with ``source``, ``frame``
and ``pts``) is :func:`rtdetect.sinks.jsonl.frame_record`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .rle import decode_mask, encode_box_masks
from .types import EXTRA_LINE_COUNTS, BoxMasks, Detections


def to_record(detections: Detections, names: Sequence[str] = ()) -> dict:
    """One frame's part of a JSONL line: boxes rounded to 0.01 pixel, scores to 1e-5, masks as COCO RLE of
    the full frame; ``label`` is ``names[class_id]`` (the id as text when ``names`` lacks it)."""
    masks = None if detections.masks is None else encode_box_masks(detections.masks)
    items = []
    for i in range(len(detections)):
        cid = int(detections.class_ids[i])
        item = {"box": [round(float(v), 2) for v in detections.xyxy[i]],
                "score": round(float(detections.scores[i]), 5),
                "class_id": cid, "label": names[cid] if 0 <= cid < len(names) else str(cid)}
        if detections.track_ids is not None:
            item["track_id"] = int(detections.track_ids[i])
        if masks is not None:
            item["mask"] = masks[i]
        items.append(item)
    record = {"detections": items}
    if EXTRA_LINE_COUNTS in detections.extra:
        record["counts"] = detections.extra[EXTRA_LINE_COUNTS]
    return record


def from_record(record: dict) -> Detections:
    """Inverse of :func:`to_record` (a whole JSONL line is accepted; its other keys are ignored). Masks come
    back box-local; ``mask_hw`` cannot be known for zero detections, so those have no masks.
    Raises ValueError naming what is malformed."""
    try:
        items = list(record["detections"])
        xyxy = np.array([item["box"] for item in items], np.float32).reshape(-1, 4)
        scores = np.array([item["score"] for item in items], np.float32)
        class_ids = np.array([item["class_id"] for item in items], np.int32)
        track_ids = None
        if items and all("track_id" in item for item in items):
            track_ids = np.array([item["track_id"] for item in items], np.int64)
        masks = None
        if items and all("mask" in item for item in items):
            masks = BoxMasks.from_full(np.stack([decode_mask(item["mask"]) for item in items]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a detections record: {exc!r}") from None
    extra = {EXTRA_LINE_COUNTS: record["counts"]} if "counts" in record else {}
    return Detections(xyxy, scores, class_ids, masks, track_ids, extra)
