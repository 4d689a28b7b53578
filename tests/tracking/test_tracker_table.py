"""A tracker is swappable: the Tracker role, the table the command line offers, and a tracker of the user's
own (a greedy IoU tracker written here) run through the same pipeline as ByteTrack, with no change to
rtdetect."""
import numpy as np
import pytest

import rtdetect
from rtdetect.boxes import pairwise_iou
from rtdetect.errors import UsageError
from rtdetect.tracking import TRACKERS, ByteTracker, Tracker, tracker_factory
from rtdetect.types import Detections


class IouTracker:
    """Each detection takes the id of the last frame's box it overlaps most (IoU >= 0.3, same class, each
    id once), else a new id from 1000 on (so its ids cannot be mistaken for ByteTrack's)."""

    def __init__(self, frame_rate: float) -> None:
        self.frame_rate = frame_rate
        self.reset()

    def reset(self) -> None:
        self._boxes, self._classes, self._ids, self._next = np.zeros((0, 4), np.float32), [], [], 1000

    def update(self, detections: Detections, frame_index=None) -> Detections:
        ids = []
        iou = pairwise_iou(detections.xyxy, self._boxes) if len(self._boxes) else np.zeros((len(detections), 0))
        taken = set()
        for i, cls in enumerate(detections.class_ids.tolist()):
            order = [j for j in np.argsort(-iou[i]).tolist()
                     if iou[i, j] >= 0.3 and self._classes[j] == cls and j not in taken]
            if order:
                taken.add(order[0])
                ids.append(self._ids[order[0]])
            else:
                ids.append(self._next)
                self._next += 1
        self._boxes, self._classes, self._ids = detections.xyxy.copy(), detections.class_ids.tolist(), ids
        return Detections(detections.xyxy, detections.scores, detections.class_ids, detections.masks,
                          np.asarray(ids, np.int64), dict(detections.extra))


def test_the_table_names_the_trackers_and_refuses_others():
    assert list(TRACKERS) == ["bytetrack"]
    assert tracker_factory(True) is tracker_factory("bytetrack") is ByteTracker
    assert tracker_factory(False) is None and tracker_factory(IouTracker) is IouTracker
    assert isinstance(ByteTracker(frame_rate=30.0), Tracker) and isinstance(IouTracker(30.0), Tracker)
    with pytest.raises(UsageError, match="unknown tracker 'sort': choose one of bytetrack"):
        tracker_factory("sort")


def test_a_users_tracker_runs_in_the_pipeline(fall_detection_dir, data_dir):
    with rtdetect.Detector(str(fall_detection_dir / "best_fp16.onnx"), backend="onnxruntime") as detector:
        ours = [d for _, d in detector.stream(str(data_dir / "vtest_3s.mp4"), max_frames=6, track=IouTracker)]
        byte = [d for _, d in detector.stream(str(data_dir / "vtest_3s.mp4"), max_frames=6, track="bytetrack")]
    assert sum(len(d) for d in ours) >= 6  # people walk through the scene
    ids = [d.track_ids.tolist() for d in ours]
    assert all(i >= 1000 for frame in ids for i in frame)  # IouTracker's own ids
    assert set(ids[0]) & set(ids[-1])  # someone kept an identity over the six frames
    assert all(d.track_ids is not None and (len(d) == 0 or d.track_ids.max() < 1000) for d in byte)
