import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rtdetect.nms import nms, nms_reference


def random_case(seed, n, classes, tie_levels=None, zero_area_fraction=0.0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(1, 60, (n, 2))
    wh[rng.random(n) < zero_area_fraction] = 0
    boxes = np.hstack([xy, xy + wh]).astype(np.float32)
    scores = (rng.choice(np.linspace(0.05, 1, tie_levels), n) if tie_levels else rng.random(n)).astype(np.float32)
    return boxes, scores, rng.integers(0, classes, n).astype(np.int32)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 400), classes=st.integers(1, 5), ties=st.sampled_from([None, 3, 10]),
       zero=st.sampled_from([0.0, 0.2]), iou=st.sampled_from([0.3, 0.45, 0.7]), max_det=st.sampled_from([1, 20, 300]))
def test_fast_matches_reference(seed, n, classes, ties, zero, iou, max_det):
    boxes, scores, cls = random_case(seed, n, classes, ties, zero)
    np.testing.assert_array_equal(nms(boxes, scores, cls, iou, max_det), nms_reference(boxes, scores, cls, iou, max_det))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 300), classes=st.integers(1, 4), iou=st.sampled_from([0.3, 0.5, 0.7]))
def test_reference_agrees_with_opencv(seed, n, classes, iou):
    """cv2.dnn.NMSBoxesBatched is an independent implementation of the same greedy class-aware rule."""
    boxes, scores, cls = random_case(seed, n, classes)
    xywh = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
    theirs = np.asarray(cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), cls.tolist(), 0.0, iou), dtype=np.int64).ravel()
    ours = nms_reference(boxes, scores, cls, iou, max_det=10**6)
    assert sorted(ours.tolist()) == sorted(theirs.tolist())


def test_ties_break_by_lower_index():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], np.float32)
    scores = np.array([0.5, 0.5, 0.5], np.float32)
    assert nms(boxes, scores, np.zeros(3), 0.5).tolist() == [0]
    assert nms(boxes[::-1].copy(), scores, np.zeros(3), 0.5).tolist() == [0]


def test_class_aware_and_edge_cases():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, [0, 1], 0.5).tolist() == [0, 1]          # other class: kept
    assert nms(boxes, scores, [0, 0], 0.5).tolist() == [0]
    assert nms(np.zeros((0, 4)), [], [], 0.5).tolist() == []
    zero_area = np.array([[5, 5, 5, 5], [5, 5, 5, 5]], np.float32)
    assert nms(zero_area, scores, [0, 0], 0.1).tolist() == [0, 1]        # union 0: IoU 0, never suppresses
    assert nms(boxes, scores, [0, 1], 0.5, max_det=1).tolist() == [0]
    with pytest.raises(ValueError, match="disagree"):
        nms(boxes, scores[:1], [0, 0], 0.5)


@pytest.mark.parametrize("n, classes", [(600, 1), (600, 3), (2000, 80)])
def test_large_inputs_take_the_per_class_paths(n, classes):
    boxes, scores, cls = random_case(n, n, classes, tie_levels=50)
    for max_det in (10, 300, 5000):
        np.testing.assert_array_equal(nms(boxes, scores, cls, 0.45, max_det), nms_reference(boxes, scores, cls, 0.45, max_det))


def test_30000_candidates():
    boxes, scores, cls = random_case(7, 30000, 80)
    keep = nms(boxes, scores, cls, 0.45, 300)
    np.testing.assert_array_equal(keep, nms_reference(boxes, scores, cls, 0.45, 300))
    assert len(keep) == 300 and np.all(np.diff(scores[keep]) <= 0)


# Two 3x2 boxes one column apart: intersection 2x2 = 4, union 6 + 6 - 4 = 8, IoU exactly 0.5 (in float32 too:
# every coordinate is a small multiple of 4).
AT_HALF_W, AT_HALF_H, AT_HALF_SHIFT, GRID = 3, 2, 1, 4.0


@pytest.mark.parametrize("pairs", [1, 200, 1100], ids=["one-block", "blocks", "per-class"])
def test_iou_equal_to_the_threshold_does_not_suppress(pairs):
    """The rule (rtdetect.nms, as torchvision.ops.nms): suppress when IoU > threshold. Even pairs overlap with IoU
    exactly 0.5 and keep both boxes at --iou 0.5; odd pairs are the same box twice (IoU 1) and keep the better one."""
    rng = np.random.default_rng(pairs)
    scores = (rng.permutation(2 * pairs) / (2 * pairs) + 0.01).astype(np.float32)
    boxes, classes, expected = [], [], []
    for p in range(pairs):
        x, y = (p % 40) * 10, (p // 40) * 10
        shift = AT_HALF_SHIFT if p % 2 == 0 else 0
        boxes += [[x, y, x + AT_HALF_W, y + AT_HALF_H], [x + shift, y, x + shift + AT_HALF_W, y + AT_HALF_H]]
        classes += [p % 3] * 2
        first, second = 2 * p, 2 * p + 1
        expected += [first, second] if shift else [first if scores[first] > scores[second] else second]
    boxes = np.asarray(boxes, np.float32) * GRID
    classes = np.asarray(classes, np.int32)
    for implementation in (nms, nms_reference):
        kept = implementation(boxes, scores, classes, 0.5, max_det=10**6)
        assert sorted(kept.tolist()) == sorted(expected), implementation
