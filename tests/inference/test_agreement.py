"""The agreement measure of the accuracy guard, on box-local masks: mask IoU by its definition on full
frames, and on the real segmentation model's detections."""
import dataclasses

import cv2
import numpy as np
import pytest

from rtdetect.agreement import agreement, frame_matches, mask_iou
from rtdetect.inference import create_engine
from rtdetect.inference.selection import GUARD_IOU, detections_of
from rtdetect.types import BoxMasks


def random_masks(rng, n, hw):
    """n random blob masks of an (H, W) frame, as full-frame bool stacks."""
    masks = np.zeros((n, *hw), bool)
    for mask in masks:
        x0, y0 = rng.integers(0, hw[1] - 8), rng.integers(0, hw[0] - 8)
        w, h = rng.integers(4, hw[1] - x0 + 1), rng.integers(4, hw[0] - y0 + 1)
        mask[y0:y0 + h, x0:x0 + w] = rng.random((h, w)) < 0.7
    return masks


@pytest.mark.parametrize("seed", range(5))
def test_mask_iou_is_the_full_frame_iou(seed):
    rng = np.random.default_rng(seed)
    full_a, full_b = random_masks(rng, 4, (60, 80)), random_masks(rng, 5, (60, 80))
    a, b = BoxMasks.from_full(full_a), BoxMasks.from_full(full_b)
    for i in range(4):
        for j in range(5):
            inter = np.count_nonzero(full_a[i] & full_b[j])
            union = np.count_nonzero(full_a[i] | full_b[j])
            assert mask_iou(a, i, b, j) == pytest.approx(inter / union if union else 0.0, abs=1e-12)


@pytest.fixture(scope="module")
def seg_detections(v5seg_onnx, data_dir):
    engine = create_engine(str(v5seg_onnx), backend="onnxruntime", precision="fp32")
    try:
        return detections_of(engine, [cv2.imread(str(data_dir / "bus.jpg"))])[0]
    finally:
        engine.close()


def test_real_segmentation_detections_agree_with_themselves(seg_detections):
    assert len(seg_detections) >= 4 and isinstance(seg_detections.masks, BoxMasks)
    result = agreement([seg_detections], [seg_detections], GUARD_IOU)
    assert result.matched == len(seg_detections) and result.f1 == 1.0


def test_same_boxes_with_different_masks_do_not_match(seg_detections):
    # The same boxes with every mask emptied: box IoU 1, mask IoU 0; without masks, boxes alone decide.
    masks = seg_detections.masks
    emptied = BoxMasks(tuple(np.zeros_like(c) for c in masks.crops), masks.offsets, masks.frame_hw)
    other = dataclasses.replace(seg_detections, masks=emptied)
    assert frame_matches(seg_detections, other, GUARD_IOU) == 0
    assert frame_matches(seg_detections, dataclasses.replace(seg_detections, masks=None), GUARD_IOU) == len(seg_detections)
