"""JSONL of detections: one line per processed frame, flushed as it goes, renamed into place on close;
or streamed to a text stream (standard output) line by line, for pipes.

Line schema: ``{"source", "frame", "pts", "detections": [{"box": [x1, y1, x2, y2], "score", "class_id",
"label", "track_id", "mask": {"size": [h, w], "counts": "<COCO RLE>"}}], "counts": [...]}``; boxes in frame
pixels; ``track_id`` only when tracking, ``mask`` only for segmentation models, ``counts`` (running line-crossing
counts, see ``rtdetect.tracking.counting``) only with count lines.
"""
from __future__ import annotations

import json
from typing import Sequence, TextIO

from ..types import EXTRA_LINE_COUNTS, Detections, Frame
from .atomic import check_output_path, commit, partial_path
from .rle import encode_box_masks


def frame_record(frame: Frame, detections: Detections, names: Sequence[str]) -> dict:
    items = []
    masks = None if detections.masks is None else encode_box_masks(detections.masks)
    for i in range(len(detections)):
        cid = int(detections.class_ids[i])
        item = {
            "box": [round(float(v), 2) for v in detections.xyxy[i]],
            "score": round(float(detections.scores[i]), 5),
            "class_id": cid,
            "label": names[cid] if 0 <= cid < len(names) else str(cid),
        }
        if detections.track_ids is not None:
            item["track_id"] = int(detections.track_ids[i])
        if masks is not None:
            item["mask"] = masks[i]
        items.append(item)
    record = {"source": frame.source, "frame": frame.index, "pts": frame.pts, "detections": items}
    if EXTRA_LINE_COUNTS in detections.extra:
        record["counts"] = detections.extra[EXTRA_LINE_COUNTS]
    return record


JSONL_EXTENSIONS = (".jsonl", ".ndjson")


class JsonlSink:
    """``JsonlSink(path, names)`` writes a file atomically; ``JsonlSink(None, names, stream=sys.stdout)``
    writes each line to ``stream`` as soon as its frame is done."""

    needs_render = False

    def __init__(self, path: str | None, names: Sequence[str], *, stream: TextIO | None = None) -> None:
        self.path = None if stream is not None else check_output_path(path, JSONL_EXTENSIONS)
        self.names = list(names)
        self._stream = stream
        self._partial = None if self.path is None else partial_path(self.path)
        self._file = None  # opened on the first frame: a run that processes nothing writes nothing
        self.lines = 0

    def write(self, frame: Frame, detections: Detections, rendered=None) -> None:
        if self._file is None:
            self._file = self._stream or open(self._partial, "w", encoding="utf-8")
        self._file.write(json.dumps(frame_record(frame, detections, self.names), separators=(",", ":")) + "\n")
        self._file.flush()
        self.lines += 1

    def close(self) -> None:
        if self._file is None:
            return
        file, self._file = self._file, None
        if file is self._stream:
            file.flush()
            return
        file.close()
        commit(self._partial, self.path)
