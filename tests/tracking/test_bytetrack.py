import numpy as np
import pytest

from rtdetect.tracking import ByteTracker
from rtdetect.types import BoxMasks, Detections


def dets(boxes, scores=None, classes=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Detections(boxes, np.full(n, 0.9, np.float32) if scores is None else scores,
                      np.zeros(n, np.int32) if classes is None else classes)


def box_at(x, y, w=40, h=80):
    return [x, y, x + w, y + h]


def ids_by_x(out):
    """track id of each output detection, keyed by its rounded left edge."""
    return {round(float(b[0])): int(t) for b, t in zip(out.xyxy, out.track_ids)}


def test_first_frame_confirms_and_ids_start_at_one():
    out = ByteTracker().update(dets([box_at(10, 10), box_at(200, 10)]))
    assert out.track_ids.dtype == np.int64 and sorted(out.track_ids) == [1, 2]
    assert np.array_equal(out.xyxy, dets([box_at(10, 10), box_at(200, 10)]).xyxy)


def test_identity_kept_through_a_short_occlusion():
    tracker = ByteTracker(frame_rate=30)
    first = None
    for f in range(40):
        x = 10 + 5 * f
        visible = not 15 <= f < 22  # hidden for 7 frames
        out = tracker.update(dets([box_at(x, 50)] if visible else np.zeros((0, 4))))
        if visible:
            assert len(out) == 1
            first = first or int(out.track_ids[0])
            assert int(out.track_ids[0]) == first, f"frame {f}"


def test_lost_track_forgotten_after_buffer_and_ids_never_reused():
    tracker = ByteTracker(frame_rate=10)  # buffer: 30 frames at 30 FPS -> 10 frames at 10 FPS
    a = tracker.update(dets([box_at(10, 10)])).track_ids[0]
    for _ in range(12):
        tracker.update(dets(np.zeros((0, 4))))
    tracker.update(dets([box_at(10, 10)]))
    b = tracker.update(dets([box_at(10, 10)])).track_ids[0]  # a new track, confirmed on its second frame
    assert b != a and b > a
    tracker.reset()
    c = tracker.update(dets([box_at(10, 10)])).track_ids[0]
    assert c > b  # reset forgets tracks, never ids


def test_two_crossing_objects_keep_their_ids():
    tracker = ByteTracker()
    seen = {}
    for f in range(30):
        a, b = box_at(10 + 8 * f, 100), box_at(250 - 8 * f, 125)  # they pass, half overlapping, at f ~ 15
        out = tracker.update(dets([a, b]))
        assert len(out) == 2
        for box, tid in zip(out.xyxy, out.track_ids):
            moving_right = box[1] == 100  # the one moving right is the higher one
            seen.setdefault(bool(moving_right), set()).add(int(tid))
    assert len(seen[True]) == 1 and len(seen[False]) == 1 and seen[True] != seen[False]


def test_frame_gap_is_predicted_through():
    """A live source drops 6 frames of an object moving 12 px/frame: with the real gap the prediction
    lands on it again; taken as consecutive frames it would not overlap and a new id would start."""
    def run(use_index):
        tracker = ByteTracker()
        ids = set()
        for f in list(range(10)) + list(range(16, 20)):
            out = tracker.update(dets([box_at(10 + 12 * f, 50, w=30, h=60)]), f if use_index else None)
            ids.update(out.track_ids.tolist())
        return ids
    assert run(True) == {1}
    assert len(run(False)) > 1  # the failure mode the frame index prevents
    with pytest.raises(ValueError, match="must increase"):
        tracker = ByteTracker()
        tracker.update(dets([box_at(0, 0)]), 5)
        tracker.update(dets([box_at(0, 0)]), 5)


def test_low_score_detections_keep_a_track_alive():
    tracker = ByteTracker()
    tid = tracker.update(dets([box_at(10, 10)])).track_ids[0]
    for f in range(1, 6):  # occluded: the detector's score drops below the high threshold
        out = tracker.update(dets([box_at(10 + 3 * f, 10)], scores=np.array([0.2], np.float32)))
        assert out.track_ids.tolist() == [tid]
    out = tracker.update(dets([box_at(200, 200)], scores=np.array([0.2], np.float32)))
    assert len(out) == 0  # a low-score detection never starts a track


def test_class_aware_and_unconfirmed_births():
    tracker = ByteTracker()
    person = tracker.update(dets([box_at(10, 10)], classes=np.array([0]))).track_ids[0]
    out = tracker.update(dets([box_at(10, 10)], classes=np.array([2])))
    assert len(out) == 0  # a car on the person's box is a new, unconfirmed track, not the person
    out = tracker.update(dets([box_at(10, 10)], classes=np.array([2])))
    assert len(out) == 1 and out.track_ids[0] != person


def test_masks_follow_their_detection():
    masks = np.zeros((2, 100, 300), bool)
    masks[0, 10:20, 10:20] = True
    masks[1, 50:60, 200:210] = True
    d = Detections(np.array([box_at(10, 10), box_at(200, 10)], np.float32), np.array([0.9, 0.8], np.float32),
                   np.zeros(2, np.int32), BoxMasks.from_full(masks))
    tracker = ByteTracker()
    tracker.update(d)
    out = tracker.update(d)
    assert np.array_equal(out.masks.to_full(), masks) and out.track_ids.tolist() == [1, 2]
