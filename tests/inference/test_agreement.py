"""The agreement measure of the accuracy guard, on box-local masks: mask IoU by its definition on full
frames; two engines on the real segmentation model's detections; real detections against perturbed copies
with a known expected agreement; classes must match."""
import dataclasses

import cv2
import numpy as np
import pytest

from rtdetect.agreement import agreement, frame_matches, mask_iou
from rtdetect.inference import create_engine
from rtdetect.inference.selection import GUARD_F1, GUARD_IOU, Candidate, guard_accepts
from rtdetect.trial_inputs import detections_of
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


IMAGES = ("bus.jpg", "zidane.jpg")


def detections_on(model, backend, data_dir):
    engine = create_engine(str(model), backend=backend, precision="fp32")
    try:
        return detections_of(engine, [cv2.imread(str(data_dir / name)) for name in IMAGES])
    finally:
        engine.close()


@pytest.fixture(scope="module")
def seg_runs(v5seg_onnx, data_dir):
    """The real segmentation model's detections on real photos, by ONNX Runtime and by OpenVINO (fp32)."""
    pytest.importorskip("openvino")
    return {backend: detections_on(v5seg_onnx, backend, data_dir) for backend in ("onnxruntime", "openvino")}


@pytest.fixture(scope="module")
def seg_detections(seg_runs):
    return seg_runs["onnxruntime"][0]


def test_two_engines_agree_on_real_frames(seg_runs):
    """Two engines computing the same fp32 model: different arithmetic, the same detections and masks."""
    ort, ov = seg_runs["onnxruntime"], seg_runs["openvino"]
    assert all(len(d) >= 2 and isinstance(d.masks, BoxMasks) for d in ort)
    assert any(not np.array_equal(a.xyxy, b.xyxy) for a, b in zip(ort, ov))  # really two computations
    result = agreement(ort, ov, GUARD_IOU)
    assert result.masks and result.reference == sum(map(len, ort)) and result.other == sum(map(len, ov))
    assert result.f1 >= GUARD_F1, result.describe()


def moved_away(detections, i):
    """``detections`` with box ``i`` shifted right by more than its width (IoU 0 with where it was)."""
    xyxy = detections.xyxy.copy()
    xyxy[i, [0, 2]] += xyxy[i, 2] - xyxy[i, 0] + 1
    return dataclasses.replace(detections, xyxy=xyxy)


def with_class(detections, i, class_id):
    class_ids = detections.class_ids.copy()
    class_ids[i] = class_id
    return dataclasses.replace(detections, class_ids=class_ids)


def test_perturbed_detections_agree_exactly_as_expected(seg_detections):
    """One box moved away, one detection given another class, one dropped: of n reference detections n - 3
    match, and F1 = 2 (n - 3) / (n + n - 1)."""
    n = len(seg_detections)
    assert n >= 4
    other = with_class(moved_away(seg_detections, 0), 1, seg_detections.class_ids[1] + 1)[list(range(n - 1))]
    result = agreement([seg_detections], [other], GUARD_IOU)
    assert (result.matched, result.reference, result.other) == (n - 3, n, n - 1)
    assert result.f1 == pytest.approx(2 * (n - 3) / (2 * n - 1))


def test_swapped_classes_do_not_agree(seg_runs):
    """A quantised model that swaps classes keeps every box and mask: the guard must still refuse it."""
    ort = seg_runs["onnxruntime"]
    nc = 80
    swapped = [dataclasses.replace(d, class_ids=(d.class_ids + 1) % nc) for d in ort]
    assert all(np.array_equal(a.xyxy, b.xyxy) for a, b in zip(ort, swapped))
    result = agreement(ort, swapped, GUARD_IOU)
    assert result.matched == 0 and result.f1 == 0.0
    assert not guard_accepts(Candidate("openvino", "int8"), result)


def test_same_boxes_with_different_masks_do_not_match(seg_detections):
    # The same boxes with every mask emptied: box IoU 1, mask IoU 0; without masks, boxes alone decide.
    masks = seg_detections.masks
    emptied = BoxMasks(tuple(np.zeros_like(c) for c in masks.crops), masks.offsets, masks.frame_hw)
    other = dataclasses.replace(seg_detections, masks=emptied)
    assert frame_matches(seg_detections, other, GUARD_IOU) == 0
    assert frame_matches(seg_detections, dataclasses.replace(seg_detections, masks=None), GUARD_IOU) == len(seg_detections)
