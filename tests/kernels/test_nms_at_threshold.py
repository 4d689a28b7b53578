"""NMS at IoU EXACTLY equal to the threshold: the rule is "suppress when IoU > threshold", so such a
pair keeps both boxes. Random boxes almost never hit the threshold exactly, so here every pair is built
on a pixel grid with a chosen IoU that float32 computes exactly (small dyadic fractions: 1/4, 3/8,
1/2, 3/4), next to pairs just above it (suppressed) and just below it (kept).

Checked against the hand-known answer, then: the reference, the fast CPU NMS (each of its three code
paths: one block, blocks, per class), OpenCV's ``NMSBoxes`` (keeps a box whose overlap is <= the
threshold) and the CUDA kernel (on the emulator here, on the GPU when there is one).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtdetect.gpu import GpuNms
from rtdetect.nms import nms as nms_fast
from rtdetect.nms import nms_reference
from rtdetect.nms.fast import BLOCK, PER_CLASS_ABOVE

# threshold -> (box width, box height, shift along x) of two equal boxes whose IoU is the threshold:
# IoU = h * (w - shift) / (2 * w * h - h * (w - shift)), all small integers.
EXACT = {0.25: (5, 1, 3), 0.375: (11, 1, 5), 0.5: (3, 2, 1), 0.75: (7, 1, 1)}
UNIT = 4.0  # grid step in pixels: every coordinate is a multiple of it, far from float32 rounding
SPACING = 40  # grid units between pairs, more than any pair is wide: pairs never touch each other


def pair_iou(w: int, h: int, shift: int) -> float:
    inter = h * max(0, w - shift)
    return inter / (2 * w * h - inter)


def threshold_pairs(iou: float, n_pairs: int, seed: int):
    """(boxes (2n, 4) float32, scores (2n,) float32, expected kept indices) for ``n_pairs`` pairs cycling
    through IoU == iou, IoU just above (shift - 1: suppressed), IoU just below (shift + 1: kept)."""
    w, h, shift = EXACT[iou]
    assert pair_iou(w, h, shift) == iou and pair_iou(w, h, shift - 1) > iou > pair_iou(w, h, shift + 1)
    rng = np.random.default_rng(seed)
    scores = rng.permutation(2 * n_pairs).astype(np.float32) / (2 * n_pairs) + np.float32(0.01)
    boxes, expected = [], []
    for p in range(n_pairs):
        x0, y0 = (p % 50) * SPACING, (p // 50) * SPACING
        dx = shift + (0, -1, 1)[p % 3]
        boxes += [[x0, y0, x0 + w, y0 + h], [x0 + dx, y0, x0 + dx + w, y0 + h]]
        first, second = 2 * p, 2 * p + 1
        if p % 3 == 1:  # above the threshold: only the better-scored box of the pair survives
            expected.append(first if scores[first] > scores[second] else second)
        else:
            expected += [first, second]
    return np.asarray(boxes, np.float32) * UNIT, scores, sorted(expected)


def opencv_kept(boxes, scores, iou):
    xywh = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou)
    return sorted(np.asarray(kept, np.int64).ravel().tolist())


@pytest.mark.parametrize("iou", sorted(EXACT))
def test_reference_and_opencv_keep_both_boxes_at_the_threshold(iou):
    boxes, scores, expected = threshold_pairs(iou, 30, seed=1)
    classes = np.zeros(len(scores), np.int32)
    reference = nms_reference(boxes, scores, classes, iou, max_det=10**6)
    assert sorted(reference.tolist()) == expected
    assert opencv_kept(boxes, scores, iou) == expected


@pytest.mark.parametrize("n_pairs", [30, BLOCK, PER_CLASS_ABOVE // 2 + 30])  # one block, blocks, per class
@pytest.mark.parametrize("iou", sorted(EXACT))
def test_fast_nms_at_the_threshold_keeps_what_the_rule_keeps(iou, n_pairs):
    boxes, scores, expected = threshold_pairs(iou, n_pairs, seed=n_pairs)
    classes = np.zeros(len(scores), np.int32)
    if n_pairs > PER_CLASS_ABOVE // 2:
        classes[2 * (n_pairs // 2):] = 1  # two classes (never within a pair), each more than a block
    fast = nms_fast(boxes, scores, classes, iou, max_det=10**6)
    by_score = sorted(expected, key=lambda i: -scores[i])  # the visiting order (scores are distinct)
    assert fast.tolist() == by_score  # what the slow reference returns too (checked above on 30 pairs)


@pytest.mark.parametrize("iou", sorted(EXACT))
def test_kernel_nms_at_the_threshold_equals_the_reference(runtime, iou):
    boxes, scores, expected = threshold_pairs(iou, 90, seed=7)
    classes = np.zeros(len(scores), np.int32)
    with GpuNms(runtime, capacity=len(scores), max_det=300, num_classes=1) as stage:
        got = stage.run_host(boxes, scores, classes, iou)
    np.testing.assert_array_equal(got, nms_reference(boxes, scores, classes, iou, max_det=300))
    assert sorted(got.tolist()) == expected
