"""The fast NMS paths the benchmarks tuned (single block, blocks, per class) against the reference.

The thresholds between paths are performance choices; whichever path runs, the kept indices must be
exactly the reference's, ties and caps included.
"""
import numpy as np
import pytest

from rtdetect.nms import fast, nms_reference


def clustered(n, classes, seed, tie_levels=None):
    rng = np.random.default_rng(seed)
    objects = max(1, n // 25)
    centre = rng.uniform(0, 600, (objects, 2))
    size = rng.uniform(4, 150, (objects, 2))
    owner = rng.integers(0, objects, n)
    c = centre[owner] + rng.normal(0, 0.1, (n, 2)) * size[owner]
    s = size[owner] * rng.uniform(0.8, 1.2, (n, 2))
    boxes = np.concatenate([c - s / 2, c + s / 2], axis=1).astype(np.float32)
    levels = np.linspace(0.3, 1, tie_levels) if tie_levels else None
    scores = (rng.choice(levels, n) if tie_levels else rng.random(n)).astype(np.float32)
    return boxes, scores, rng.integers(0, classes, n).astype(np.int32)


@pytest.mark.parametrize("n", [fast.BLOCK, fast.BLOCK + 1, fast.PER_CLASS_ABOVE, fast.PER_CLASS_ABOVE + 1, 5000])
@pytest.mark.parametrize("classes, ties", [(1, None), (3, 7), (80, None)])
def test_every_path_matches_reference(n, classes, ties):
    boxes, scores, cls = clustered(n, classes, seed=n + classes, tie_levels=ties)
    for max_det in (1, 50, 300, n):
        np.testing.assert_array_equal(fast.nms(boxes, scores, cls, 0.45, max_det),
                                      nms_reference(boxes, scores, cls, 0.45, max_det))


def test_negative_threshold_and_zero_area_boxes_follow_the_rule():
    boxes, scores, cls = clustered(600, 2, seed=3)
    boxes[::7, 2:] = boxes[::7, :2]  # zero-area boxes: IoU 0 with everything
    for thres in (-0.1, 0.0, 0.45):
        np.testing.assert_array_equal(fast.nms(boxes, scores, cls, thres, 600), nms_reference(boxes, scores, cls, thres, 600))
