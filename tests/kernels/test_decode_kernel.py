"""Decode kernels vs rtdetect.decode, every layout, float32 and float16 (boxes in input pixels, as the CPU
decoders leave them; the NMS gather maps the kept ones to frame pixels, see cpu_path).

Atomic compaction makes the slot order arbitrary, so results are compared after sorting by the model
candidate index each slot records; then boxes, scores, classes and coefficients must be *equal*.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtdetect.decode import AnchorBasedDecoder, AnchorFreeDecoder, EndToEndDecoder
from rtdetect.gpu import GpuDecode
from rtdetect.nms import nms_reference
from rtdetect.preprocess import letterbox_params

DECODERS = {"v5": AnchorBasedDecoder, "v8": AnchorFreeDecoder, "e2e": EndToEndDecoder}
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
INPUT_HW = (640, 640)
# Coarse score levels make exact ties (between classes, and with the threshold) common.
LEVELS = np.array([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0], np.float32)


def make_prediction(layout: str, n: int, nc: int, nm: int, dtype, rng) -> np.ndarray:
    """A random model output with boxes partly outside the picture and tied scores."""
    centre = rng.uniform(-50, 690, (n, 2))
    size = rng.choice([0.0, 3.0, 40.0, 300.0, 900.0], (n, 2)) * rng.uniform(0.5, 1.0, (n, 2))
    coefs = rng.standard_normal((n, nm))
    if layout == "v8":
        rows = np.concatenate([centre, size, rng.choice(LEVELS, (n, nc)), coefs], axis=1).T[None]
    elif layout == "v5":
        rows = np.concatenate([centre, size, rng.choice(LEVELS, (n, 1)), rng.choice(LEVELS, (n, nc)), coefs],
                              axis=1)[None]
    else:
        corners = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        classes = rng.integers(0, nc, (n, 1)).astype(np.float64)
        rows = np.concatenate([corners, rng.choice(LEVELS, (n, 1)), classes, coefs], axis=1)[None]
    return np.ascontiguousarray(rows.astype(dtype))


def reference(layout, prediction, nc, nm, conf):
    """The CPU decoder's candidates (input pixels)."""
    return DECODERS[layout](nc, nm).decode(prediction, conf)


def cpu_path(cands, box, iou, max_det):
    """What the CPU post-processing keeps of ``cands``: NMS in input pixels, then the kept boxes mapped to
    frame pixels and clipped. Returns (kept indices, their frame boxes)."""
    keep = nms_reference(cands.xyxy, cands.scores, cands.class_ids, iou, max_det)
    return keep, box.to_original(cands.xyxy[keep])


def run_decode(runtime, layout, prediction, nc, nm, conf, box, *, capacity=None):
    n = prediction.shape[2] if layout == "v8" else prediction.shape[1]
    with GpuDecode(runtime, layout=layout, num_classes=nc, num_candidates=n, num_masks=nm,
                   dtype=prediction.dtype, capacity=capacity or n) as stage:
        return stage.run_host(prediction, box, conf)


def assert_matches(got, cands):
    got = got.sorted_by_source()
    assert got.total == len(cands) and got.overflow == 0
    assert np.all(np.diff(got.source) > 0)
    np.testing.assert_array_equal(got.xyxy, cands.xyxy)
    np.testing.assert_array_equal(got.scores, cands.scores)
    np.testing.assert_array_equal(got.class_ids, cands.class_ids)
    if cands.mask_coefs is None:
        assert got.mask_coefs is None
    else:
        np.testing.assert_array_equal(got.mask_coefs, cands.mask_coefs)


def source_rows(layout, prediction, source) -> np.ndarray:
    """The raw model rows the kernel says its slots came from (as (k, channels) float32)."""
    rows = prediction[0].T if layout == "v8" else prediction[0]
    return rows[source].astype(np.float32)


@SETTINGS
@given(layout=st.sampled_from(["v5", "v8", "e2e"]), dtype=st.sampled_from([np.float32, np.float16]),
       n=st.integers(1, 700), nc=st.integers(1, 6), nm=st.sampled_from([0, 3]),
       conf=st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]), frame_hw=st.tuples(st.integers(1, 900), st.integers(1, 900)),
       seed=st.integers(0, 2**32 - 1))
def test_random_outputs_match_the_reference(runtime, layout, dtype, n, nc, nm, conf, frame_hw, seed):
    rng = np.random.default_rng(seed)
    prediction = make_prediction(layout, n, nc, nm, dtype, rng)
    box = letterbox_params(frame_hw, INPUT_HW)[0]
    cands = reference(layout, prediction, nc, nm, conf)
    got = run_decode(runtime, layout, prediction, nc, nm, conf, box)
    assert_matches(got, cands)
    # The recorded source indices are right: the stored scores come from those model rows.
    rows = source_rows(layout, prediction, got.source)
    if layout == "e2e":
        np.testing.assert_array_equal(got.scores, rows[:, 4])


@pytest.mark.parametrize("layout", ["v5", "v8", "e2e"])
def test_no_candidate_passes(runtime, layout):
    prediction = make_prediction(layout, 300, 3, 2, np.float32, np.random.default_rng(1))
    got = run_decode(runtime, layout, prediction, 3, 2, 1.0, letterbox_params((480, 640), INPUT_HW)[0])
    assert got.total == 0 and len(got.scores) == 0 and got.mask_coefs.shape == (0, 2)


def test_30000_candidates_all_over_the_threshold(runtime):
    rng = np.random.default_rng(2)
    prediction = make_prediction("v8", 30000, 80, 32, np.float16, rng)
    prediction[0, 4:84] = rng.uniform(0.3, 1.0, (80, 30000)).astype(np.float16)
    box = letterbox_params((1080, 1920), INPUT_HW)[0]
    cands = reference("v8", prediction, 80, 32, 0.25)
    assert len(cands) == 30000
    assert_matches(run_decode(runtime, "v8", prediction, 80, 32, 0.25, box), cands)


def test_one_class_and_exact_ties_take_the_lowest_class(runtime):
    prediction = np.zeros((1, 4 + 3, 5), np.float32)
    prediction[0, :4] = [[100], [100], [20], [20]]
    prediction[0, 4:] = [[0.5, 0.2, 0.7, 0.7, 0.3], [0.5, 0.7, 0.7, 0.2, 0.3], [0.1, 0.7, 0.7, 0.7, 0.3]]
    box = letterbox_params((640, 640), INPUT_HW)[0]
    got = run_decode(runtime, "v8", prediction, 3, 0, 0.3, box).sorted_by_source()
    np.testing.assert_array_equal(got.source, [0, 1, 2, 3])  # score 0.3 is not > 0.3
    np.testing.assert_array_equal(got.class_ids, [0, 1, 0, 0])
    one = run_decode(runtime, "v5", make_prediction("v5", 200, 1, 0, np.float32, np.random.default_rng(3)), 1, 0,
                     0.2, box)
    assert set(one.class_ids.tolist()) <= {0}


def test_overflow_is_counted_and_the_stored_ones_are_genuine(runtime):
    rng = np.random.default_rng(4)
    prediction = make_prediction("v5", 2000, 4, 2, np.float32, rng)
    box = letterbox_params((720, 1280), INPUT_HW)[0]
    cands = reference("v5", prediction, 4, 2, 0.0)
    got = run_decode(runtime, "v5", prediction, 4, 2, 0.0, box, capacity=100).sorted_by_source()
    assert got.total == len(cands) > 100 and len(got.scores) == 100 and got.overflow == len(cands) - 100
    rows = prediction[0]
    passing = np.flatnonzero((rows[:, 4] > 0) & (rows[:, 4] * rows[:, 5:9].max(axis=1) > 0))  # in model order
    position = np.searchsorted(passing, got.source)
    np.testing.assert_array_equal(got.xyxy, cands.xyxy[position])
    np.testing.assert_array_equal(got.scores, cands.scores[position])


def test_wide_launch_geometry(wide_runtime):
    rng = np.random.default_rng(5)
    prediction = make_prediction("v8", 5000, 7, 4, np.float32, rng)
    box = letterbox_params((333, 777), INPUT_HW)[0]
    cands = reference("v8", prediction, 7, 4, 0.5)
    assert_matches(run_decode(wide_runtime, "v8", prediction, 7, 4, 0.5, box), cands)


def test_input_checks(emulated_runtime):
    with pytest.raises(ValueError, match="layout"):
        GpuDecode(emulated_runtime, layout="v9", num_classes=2, num_candidates=10)
    with pytest.raises(ValueError, match="num_classes"):
        GpuDecode(emulated_runtime, layout="v8", num_classes=0, num_candidates=10)
    with GpuDecode(emulated_runtime, layout="v8", num_classes=2, num_candidates=10) as stage:
        box = letterbox_params((10, 10), INPUT_HW)[0]
        with pytest.raises(ValueError, match=r"\(1, 6, 10\) float32"):
            stage.run_host(np.zeros((1, 6, 11), np.float32), box, 0.5)
        with pytest.raises(ValueError, match="conf"):
            stage.run(4096, box, 1.5)


def test_default_capacity_holds_every_row_of_the_output(runtime):
    """Issue 10 item 2: YOLOv8 has 8400 rows; with all of them over the threshold none may be dropped (a
    fixed 8192 kept whichever the atomics served first), and the stage says so: no overflow."""
    rng = np.random.default_rng(6)
    prediction = make_prediction("v8", 8400, 2, 0, np.float32, rng)
    prediction[0, 4:6] = rng.uniform(0.3, 1.0, (2, 8400)).astype(np.float32)
    box = letterbox_params((640, 640), INPUT_HW)[0]
    cands = reference("v8", prediction, 2, 0, 0.25)
    with GpuDecode(runtime, layout="v8", num_classes=2, num_candidates=8400) as stage:
        got = stage.run_host(prediction, box, 0.25)
    assert_matches(got, cands)


def poison(prediction: np.ndarray, layout: str, nc: int, rng, fraction: float = 0.05) -> np.ndarray:
    """A copy of ``prediction`` with NaN, +Inf and -Inf written over a fraction of its box, score and
    class entries (end-to-end: classes also NaN, huge, negative and just out of range)."""
    rows = (prediction[0].T if layout == "v8" else prediction[0]).copy()
    scored = {"v8": 4 + nc, "v5": 5 + nc, "e2e": 6}[layout]
    hit = rng.random((len(rows), scored)) < fraction
    values = rng.choice(np.array([np.nan, np.inf, -np.inf], np.float32), hit.shape)
    rows[:, :scored][hit] = values[hit].astype(rows.dtype)
    if layout == "e2e":
        odd = rng.random(len(rows)) < fraction
        rows[odd, 5] = rng.choice(np.array([np.nan, 1e4, -1.0, -0.5, nc, nc - 0.5], np.float32), odd.sum())
    out = rows.T if layout == "v8" else rows
    return np.ascontiguousarray(out[None].astype(prediction.dtype))


@pytest.mark.parametrize("layout", ["v5", "v8", "e2e"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nan_and_inf_outputs_follow_the_reference(runtime, layout, dtype):
    """Issue 10 item 6: the kernels apply the CPU decoders' non-finite rule (rtdetect.decode.base): a NaN in
    a candidate's box or at any class drops it (the kernel used to skip a NaN at class > 0 and keep the
    candidate), +Inf passes, an end-to-end class outside [0, nc) drops the row (its int cast disagreed)."""
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        nc = 4
        prediction = poison(make_prediction(layout, 600, nc, 2, dtype, rng), layout, nc, rng)
        box = letterbox_params((480, 640), INPUT_HW)[0]
        cands = reference(layout, prediction, nc, 2, 0.25)
        assert not np.isnan(cands.xyxy).any() and not np.isnan(cands.scores).any()
        assert_matches(run_decode(runtime, layout, prediction, nc, 2, 0.25, box), cands)
