"""Runs Roboflow's ``trackers`` (ByteTrack, OC-SORT) over saved detections; called by benchmarks/tracking.py.

    /work/venv-trackers/bin/python benchmarks/tracking_peers.py IN.npz OUT.npz

Runs in the peers' own venv (``pip install trackers``), never imported by rtdetect. IN holds, per frame f,
arrays ``boxes_f`` (M, 4) xyxy and ``scores_f`` (M,); OUT gets ``<tracker>_ids_f`` and ``<tracker>_boxes_f``
for the detections each tracker assigned an identity to (tracker_id != -1). Library defaults throughout,
with the sequence's frame rate.
"""
from __future__ import annotations

import sys

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker, OCSORTTracker


def main(src: str, dst: str, frame_rate: float = 25.0) -> None:
    data = np.load(src)
    frames = sorted({int(k.split("_")[1]) for k in data.files if k.startswith("boxes_")})
    out = {}
    for name, tracker in (("bytetrack", ByteTrackTracker(frame_rate=frame_rate)),
                          ("ocsort", OCSORTTracker(frame_rate=frame_rate))):
        for f in frames:
            boxes, scores = data[f"boxes_{f}"], data[f"scores_{f}"]
            dets = sv.Detections(xyxy=boxes.reshape(-1, 4).astype(np.float32), confidence=scores.astype(np.float32),
                                 class_id=np.zeros(len(boxes), int))
            result = tracker.update(dets)
            keep = result.tracker_id != -1
            out[f"{name}_ids_{f}"] = result.tracker_id[keep].astype(np.int64)
            out[f"{name}_boxes_{f}"] = result.xyxy[keep].astype(np.float32)
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(float(v) for v in sys.argv[3:4]))
