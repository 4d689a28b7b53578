"""NMS kernels vs rtdetect.nms.reference: the kept indices must be *identical* (order included)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtdetect.gpu import DeviceCandidates, GpuNms, download_detections
from rtdetect.nms import nms as nms_fast
from rtdetect.nms import nms_reference

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_boxes(rng, n, *, extent=200.0, zero_area=0.1):
    """(n, 4) float32 boxes on a coarse grid (so IoUs hit thresholds exactly), some of zero area."""
    corner = np.round(rng.uniform(0, extent, (n, 2)) * 2) / 2
    size = np.round(rng.uniform(0, extent / 4, (n, 2)) * 2) / 2
    size[rng.random(n) < zero_area] = 0.0
    return np.concatenate([corner, corner + size], axis=1).astype(np.float32)


def check(runtime, boxes, scores, classes, iou, max_det, *, num_classes=None, capacity=None):
    with GpuNms(runtime, capacity=capacity or max(len(scores), 1), max_det=max_det,
                num_classes=num_classes) as stage:
        got = stage.run_host(boxes, scores, classes, iou)
    want = nms_reference(boxes, scores, classes, iou, max_det)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64
    return got


@SETTINGS
@given(n=st.integers(0, 400), nc=st.integers(1, 4), iou=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
       max_det=st.integers(1, 450), levels=st.sampled_from([3, 20, 0]), seed=st.integers(0, 2**32 - 1))
def test_random_candidates_match_the_reference(runtime, n, nc, iou, max_det, levels, seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n)
    scores = (rng.integers(0, levels, n) / levels if levels else rng.random(n)).astype(np.float32)
    classes = rng.integers(0, nc, n).astype(np.int32)
    check(runtime, boxes, scores, classes, iou, max_det, num_classes=nc)


def test_no_candidates(runtime):
    got = check(runtime, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), 0.5, 10)
    assert len(got) == 0


def test_exact_ties_go_to_the_lower_index(runtime):
    boxes = np.tile(np.array([[10, 10, 50, 50]], np.float32), (6, 1))
    scores = np.full(6, 0.5, np.float32)
    classes = np.array([1, 0, 1, 0, 2, 2], np.int32)
    np.testing.assert_array_equal(check(runtime, boxes, scores, classes, 0.5, 10, num_classes=3), [0, 1, 4])


def test_zero_area_boxes_never_suppress(runtime):
    boxes = np.tile(np.array([[5, 5, 5, 9]], np.float32), (50, 1))
    got = check(runtime, boxes, np.linspace(1, 0.5, 50).astype(np.float32), np.zeros(50, np.int32), 0.0, 100)
    assert len(got) == 50


def test_one_class_many_tiles(runtime):
    rng = np.random.default_rng(1)
    n = 2500  # 40 tile rows: 820 tiles in one segment
    check(runtime, random_boxes(rng, n, extent=600.0), rng.random(n).astype(np.float32),
          np.zeros(n, np.int32), 0.45, 3000, num_classes=1)


def test_30000_candidates_80_classes(runtime):
    """A crowded frame: per class, candidates jittered around a few objects (heavy suppression)."""
    rng = np.random.default_rng(2)
    n, objects = 30000, 640
    centre = rng.uniform(0, 640, (objects, 2))
    size = rng.uniform(10, 120, (objects, 2))
    owner = rng.integers(0, objects, n)
    jitter = rng.normal(0, 0.08, (n, 4)) * np.tile(size[owner], 2)
    boxes = (np.concatenate([centre[owner] - size[owner] / 2, centre[owner] + size[owner] / 2], 1) + jitter)
    boxes = np.round(boxes.astype(np.float32) * 4) / 4
    scores = (rng.integers(0, 1000, n) / 1000).astype(np.float32)
    classes = (owner % 80).astype(np.int32)
    with GpuNms(runtime, capacity=n, max_det=n, num_classes=80) as stage:
        everything = stage.run_host(boxes, scores, classes, 0.5)
    np.testing.assert_array_equal(everything, nms_fast(boxes, scores, classes, 0.5, n))
    check(runtime, boxes, scores, classes, 0.5, 300, num_classes=80)


def test_any_int32_class_ids_without_num_classes(runtime):
    rng = np.random.default_rng(3)
    n = 300
    classes = rng.choice(np.array([-7, 0, 3, 2**20, -(2**31)], np.int32), n)
    check(runtime, random_boxes(rng, n), rng.random(n).astype(np.float32), classes, 0.4, 300)


def test_scores_of_every_sign_and_negative_zero(runtime):
    rng = np.random.default_rng(4)
    n = 200
    scores = rng.choice(np.array([-1.5, -0.0, 0.0, 1e-30, 0.5, 2.0, -1e-30], np.float32), n)
    check(runtime, random_boxes(rng, n, extent=50.0), scores, rng.integers(0, 2, n).astype(np.int32), 0.3, 500,
          num_classes=2)


def test_ties_follow_the_source_index_not_the_slot(runtime):
    """Candidates in scrambled slot order (as the decode kernel's atomics leave them) with their model
    indices: NMS must visit equal scores by model index, as the CPU path (which sees them in model order)."""
    rng = np.random.default_rng(5)
    n = 500
    boxes = random_boxes(rng, n, extent=80.0)
    scores = (rng.integers(0, 4, n) / 4).astype(np.float32)
    classes = rng.integers(0, 2, n).astype(np.int32)
    want = nms_reference(boxes, scores, classes, 0.5, 100)
    slots = rng.permutation(n)  # slot s holds model candidate slots[s]
    rt = runtime
    buffers = {name: rt.alloc(nbytes) for name, nbytes in
               (("boxes", 16 * n), ("scores", 4 * n), ("classes", 4 * n), ("source", 4 * n), ("count", 4))}
    rt.upload(int(buffers["boxes"]), boxes[slots])
    rt.upload(int(buffers["scores"]), scores[slots])
    rt.upload(int(buffers["classes"]), classes[slots])
    rt.upload(int(buffers["source"]), slots.astype(np.int32))
    rt.upload(int(buffers["count"]), np.array([n], np.uint32))
    candidates = DeviceCandidates(int(buffers["boxes"]), int(buffers["scores"]), int(buffers["classes"]),
                                  int(buffers["source"]), 0, int(buffers["count"]), n, 0, (n - 1).bit_length())
    with GpuNms(rt, capacity=n, max_det=100, num_classes=2) as stage:
        kept = download_detections(rt, stage.run(candidates, 0.5))
    np.testing.assert_array_equal(kept.source, want)
    np.testing.assert_array_equal(slots[kept.index], want)
    np.testing.assert_array_equal(kept.xyxy, boxes[want])
    for buffer in buffers.values():
        rt.free(buffer)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 1500), seed=st.integers(0, 2**32 - 1))
def test_wide_launch_geometry(wide_runtime, n, seed):
    rng = np.random.default_rng(seed)
    check(wide_runtime, random_boxes(rng, n), (rng.integers(0, 10, n) / 10).astype(np.float32),
          rng.integers(0, 3, n).astype(np.int32), 0.5, 200, num_classes=3)


def test_input_checks(emulated_runtime):
    for capacity in (0, 2**31):
        with pytest.raises(ValueError, match="capacity"):
            GpuNms(emulated_runtime, capacity=capacity)
    with GpuNms(emulated_runtime, capacity=10, max_det=5, num_classes=2) as stage:
        with pytest.raises(ValueError, match="disagree"):
            stage.run_host(np.zeros((3, 4)), np.zeros(2), np.zeros(3), 0.5)
        with pytest.raises(ValueError, match="exceed"):
            stage.run_host(np.zeros((11, 4)), np.zeros(11), np.zeros(11), 0.5)
        with pytest.raises(ValueError, match="class ids"):
            stage.run_host(np.zeros((2, 4)), np.zeros(2), np.array([0, 2]), 0.5)
        before = emulated_runtime.launch_count
        assert len(stage.run_host(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5)) == 0
        assert emulated_runtime.launch_count == before  # empty input: no launch at all


@pytest.mark.parametrize("layout", ["v5", "v8", "e2e"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_mask_coefficients_are_copied_once_by_the_gather(emulated_runtime, layout, dtype):
    """Issue 10 item 5: the decode kernel stores no coefficients (it used to copy every passing candidate's
    nm values, most of them discarded by NMS); the gather copies the kept ones straight from the model
    output. So decode memory does not grow with nm, and the kept coefficients are the reference's."""
    from rtdetect.gpu import GpuDecode
    from rtdetect.preprocess import letterbox_params
    from test_decode_kernel import cpu_path, make_prediction, reference

    rt, nc, nm, n = emulated_runtime, 3, 32, 1500
    held = {}
    for masks in (0, nm):
        before = rt.allocated_bytes()
        with GpuDecode(rt, layout=layout, num_classes=nc, num_candidates=n, num_masks=masks, dtype=dtype):
            held[masks] = rt.allocated_bytes() - before
    assert held[nm] == held[0]
    prediction = make_prediction(layout, n, nc, nm, dtype, np.random.default_rng(11))
    box = letterbox_params((480, 640), (640, 640))[0]
    cands = reference(layout, prediction, nc, nm, 0.25)
    keep, boxes = cpu_path(cands, box, 0.5, 100)
    with GpuDecode(rt, layout=layout, num_classes=nc, num_candidates=n, num_masks=nm, dtype=dtype) as decode, \
            GpuNms(rt, capacity=n, max_det=100, num_masks=nm, num_classes=nc) as stage:
        device = rt.alloc(prediction.nbytes)
        rt.upload(int(device), prediction)
        kept = download_detections(rt, stage.run(decode.run(int(device), box, 0.25), 0.5))
        rt.free(device)
    np.testing.assert_array_equal(kept.xyxy, boxes)
    np.testing.assert_array_equal(kept.mask_coefs, cands.mask_coefs[keep])
