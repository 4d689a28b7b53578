"""Mask kernels vs rtdetect.masks.process_masks (box-local BoxMasks: the same crops at the same offsets), and
the blend kernel vs blend_masks_reference.

The reference sums coefficients x protos with BLAS, the kernel in plain order, so a logit may differ in its
last bits: only pixels whose sampled logit is within 1e-4 of zero may differ.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtdetect.gpu import GpuMasks, blend_masks_reference
from rtdetect.masks import box_pixel_range, mask_logits, process_masks
from rtdetect.preprocess import letterbox_params
from rtdetect.types import BoxMasks

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NEAR_ZERO = 1e-4


def sampled_logits(coefs, protos, boxes, box) -> np.ndarray:
    """The reference's bilinearly sampled logit at every frame pixel inside each box (NaN outside): this
    test's own float32 restatement of process_masks, checked against it below."""
    height, width = box.source_hw
    in_h, in_w = box.input_hw
    _, mh, mw = protos.shape
    logits = mask_logits(coefs, protos)
    out = np.full((len(boxes), height, width), np.nan, np.float32)
    f32 = np.float32

    def taps(pixels, pad, grid, size):
        coord = ((pixels.astype(f32) + f32(0.5)) * f32(box.scale) + f32(pad)) * f32(grid / size) - f32(0.5)
        coord = np.clip(coord, f32(0), f32(grid - 1))
        lower = np.floor(coord).astype(np.int64)
        return lower, np.minimum(lower + 1, grid - 1), (coord - lower.astype(f32)).astype(f32)

    for i, (x1, y1, x2, y2) in enumerate(boxes):
        c0, c1 = box_pixel_range(x1, x2, width)
        r0, r1 = box_pixel_range(y1, y2, height)
        if c0 >= c1 or r0 >= r1:
            continue
        yl, yh, wy = taps(np.arange(r0, r1), box.pad_y, mh, in_h)
        xl, xh, wx = taps(np.arange(c0, c1), box.pad_x, mw, in_w)
        rows = logits[i, yl] * (1 - wy)[:, None] + logits[i, yh] * wy[:, None]
        out[i, r0:r1, c0:c1] = rows[:, xl] * (1 - wx)[None, :] + rows[:, xh] * wx[None, :]
    return out


def random_case(rng, frame_hw, input_hw, nm, n, proto_dtype=np.float32):
    box = letterbox_params(frame_hw, input_hw)[0]
    mh, mw = max(1, input_hw[0] // 4), max(1, input_hw[1] // 4)
    protos = rng.standard_normal((nm, mh, mw)).astype(proto_dtype)
    coefs = rng.standard_normal((n, nm)).astype(np.float32)
    height, width = frame_hw
    corner = rng.uniform(-0.2, 1.0, (n, 2)) * [width, height]
    size = rng.uniform(0.0, 0.8, (n, 2)) * [width, height]
    size[rng.random(n) < 0.1] = 0.0
    boxes = np.concatenate([corner, corner + size], 1).astype(np.float32)
    # Through input pixels and back, as the decode kernel delivers them: clipped to the frame.
    boxes = box.to_original(boxes * np.float32(box.scale) + np.float32([box.pad_x, box.pad_y] * 2))
    return coefs, protos, boxes, box


def check(runtime, coefs, protos, boxes, box, *, max_det=None, crop_bytes=None):
    """The kernels' BoxMasks against the reference's: same crop rectangles, pixels equal away from zero."""
    reference = process_masks(coefs, protos.astype(np.float32), boxes, box)
    want = reference.to_full()
    values = sampled_logits(coefs, protos.astype(np.float32), boxes, box)
    inside = ~np.isnan(values)
    assert np.array_equal(np.where(inside, values > 0, False), want)  # the restatement is faithful
    with GpuMasks(runtime, max_det=max_det or max(len(boxes), 1), num_masks=protos.shape[0],
                  proto_hw=protos.shape[1:], frame_hw=box.source_hw, dtype=protos.dtype,
                  crop_bytes=crop_bytes) as stage:
        masks = stage.run_host(coefs, protos, boxes, box)
    assert isinstance(masks, BoxMasks) and masks.frame_hw == reference.frame_hw
    np.testing.assert_array_equal(masks.offsets, reference.offsets)
    assert [c.shape for c in masks.crops] == [c.shape for c in reference.crops]
    got = masks.to_full()
    differ = got != want
    assert np.all(np.abs(values[differ]) < NEAR_ZERO), f"{differ.sum()} pixels differ away from zero"
    return got, want


@SETTINGS
@given(frame_hw=st.tuples(st.integers(1, 120), st.integers(1, 120)),
       input_hw=st.sampled_from([(64, 64), (32, 48), (36, 20)]), nm=st.sampled_from([1, 4, 32]),
       n=st.integers(0, 6), dtype=st.sampled_from([np.float32, np.float16]), seed=st.integers(0, 2**32 - 1))
def test_random_masks_match_the_reference(runtime, frame_hw, input_hw, nm, n, dtype, seed):
    rng = np.random.default_rng(seed)
    check(runtime, *random_case(rng, frame_hw, input_hw, nm, n, dtype))


def test_no_detections(runtime):
    coefs, protos, boxes, box = random_case(np.random.default_rng(1), (30, 40), (64, 64), 4, 0)
    got, _ = check(runtime, coefs, protos, boxes, box, max_det=5)
    assert got.shape == (0, 30, 40)  # to_full of no crops


def test_full_hd_frame_with_real_sized_protos(runtime):
    rng = np.random.default_rng(2)
    coefs, protos, boxes, box = random_case(rng, (1080, 1920), (640, 640), 32, 3)
    got, want = check(runtime, coefs, protos, boxes, box)
    assert want.any()


def test_one_pixel_frame_and_zero_area_boxes(runtime):
    rng = np.random.default_rng(3)
    box = letterbox_params((1, 1), (64, 64))[0]
    protos = rng.standard_normal((4, 16, 16)).astype(np.float32)
    coefs = rng.standard_normal((3, 4)).astype(np.float32)
    boxes = np.array([[0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], [0, 0, 0.4, 1]], np.float32)
    check(runtime, coefs, protos, boxes, box)


def test_wide_launch_geometry(wide_runtime):
    check(wide_runtime, *random_case(np.random.default_rng(4), (97, 203), (64, 64), 8, 5))


def test_blend_matches_the_reference(runtime):
    rng = np.random.default_rng(5)
    coefs, protos, boxes, box = random_case(rng, (61, 87), (64, 64), 4, 5)
    boxes[[1, 3]] = [0, 0, 87, 61]  # two whole-frame boxes: their masks overlap each other and the rest
    image = rng.integers(0, 256, (61, 87, 3), dtype=np.uint8)
    palette = rng.integers(0, 256, (7, 3), dtype=np.uint8)
    class_ids = np.array([0, 3, 9, -2, 3], np.int32)  # -2: hidden (the pipeline's class filter dropped it)
    with GpuMasks(runtime, max_det=8, num_masks=4, proto_hw=protos.shape[1:], frame_hw=(61, 87)) as stage:
        masks = stage.run_host(coefs, protos, boxes, box).to_full()
        for alpha in (0.0, 0.35, 0.5, 1.0):
            got = stage.blend_host(image, class_ids, palette, alpha)
            np.testing.assert_array_equal(got, blend_masks_reference(image, masks, class_ids, palette, alpha))
    assert masks.any() and (masks.sum(axis=0) > 1).any()  # overlapping masks: later ones paint over
    only_hidden = masks[3] & ~np.delete(masks, 3, axis=0).any(axis=0)
    assert only_hidden.any() and (got[only_hidden] == image[only_hidden]).all()


def test_device_memory_and_grid_are_box_local(emulated_runtime):
    """Issue 10 item 3: 300 masks of a 1080p frame used to take max_det x H x W bytes (622 MB) and a grid
    over every frame pixel per detection; the crops take O(sum of box areas) and a fixed grid."""
    rt = emulated_runtime
    before = rt.allocated_bytes()
    with GpuMasks(rt, max_det=300, num_masks=32, proto_hw=(160, 160), frame_hw=(1080, 1920)) as stage:
        held = rt.allocated_bytes() - before
        rng = np.random.default_rng(7)
        coefs = rng.standard_normal((3, 32)).astype(np.float32)
        protos = rng.standard_normal((32, 160, 160)).astype(np.float32)
        boxes = np.array([[100, 100, 300, 260], [0, 0, 1920, 1080], [1000, 500, 1010, 505]], np.float32)
        masks = stage.run_host(coefs, protos, boxes, letterbox_params((1080, 1920), (640, 640))[0])
    assert held < 300 * 160 * 160 * 4 + 3 * 1080 * 1920  # logits + two frames of crops, not 622 MB
    assert sum(c.size for c in masks.crops) == 200 * 160 + 1080 * 1920 + 10 * 5
    assert rt.grids["mask_rasterize"][0] * rt.grids["mask_rasterize"][1] <= rt.grid_blocks


def test_crops_larger_than_the_buffer_grow_it(runtime):
    rng = np.random.default_rng(8)
    got, want = check(runtime, *random_case(rng, (90, 70), (64, 64), 4, 6), crop_bytes=16)
    assert want.any()


def test_input_checks(emulated_runtime):
    with pytest.raises(ValueError, match="float32 or float16"):
        GpuMasks(emulated_runtime, max_det=2, num_masks=4, proto_hw=(8, 8), frame_hw=(8, 8), dtype=np.int8)
    box = letterbox_params((8, 8), (32, 32))[0]
    with GpuMasks(emulated_runtime, max_det=2, num_masks=4, proto_hw=(8, 8), frame_hw=(8, 8)) as stage:
        with pytest.raises(ValueError, match="protos must be"):
            stage.run_host(np.zeros((1, 4)), np.zeros((4, 8, 9), np.float32), np.zeros((1, 4)), box)
        with pytest.raises(ValueError, match="at most 2"):
            stage.run_host(np.zeros((3, 4)), np.zeros((4, 8, 8), np.float32), np.zeros((3, 4)), box)
        with pytest.raises(ValueError, match="letterbox is for frames"):
            stage.run_host(np.zeros((1, 4)), np.zeros((4, 8, 8), np.float32), np.zeros((1, 4)),
                           letterbox_params((9, 8), (32, 32))[0])
        before = emulated_runtime.launch_count
        assert len(stage.run_host(np.zeros((0, 4)), np.zeros((4, 8, 8), np.float32), np.zeros((0, 4)), box)) == 0
        assert emulated_runtime.launch_count == before


def test_blend_grid_follows_the_crops_not_the_frame(wide_runtime):
    """Two small boxes on a 4K frame: the blend covers their 2 x 20 x 16 crop pixels (three blocks of 256
    threads), not the frame's 8.3 M pixels nor max_det frames."""
    rng = np.random.default_rng(3)
    frame_hw = (2160, 3840)
    coefs, protos, _, box = random_case(rng, frame_hw, (640, 640), 4, 2)
    boxes = np.array([[100, 200, 120, 216], [3000, 40, 3020, 56]], np.float32)
    image = rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    palette = rng.integers(0, 256, (20, 3), dtype=np.uint8)
    with GpuMasks(wide_runtime, max_det=300, num_masks=4, proto_hw=protos.shape[1:], frame_hw=frame_hw) as stage:
        masks = stage.run_host(coefs, protos, boxes, box)
        got = stage.blend_host(image, np.array([1, 2], np.int32), palette, 0.45)
    assert sum(crop.size for crop in masks.crops) == 640
    assert wide_runtime.grids["mask_blend"] == (3, 1) and wide_runtime.grid_blocks == 5
    np.testing.assert_array_equal(got, blend_masks_reference(image, masks.to_full(), [1, 2], palette, 0.45))


def test_8k_frames_with_the_default_max_det(runtime):
    """Issue 28: 8K segmentation with --max-det 300 raised a ValueError (a traceback in the GPU stage)
    because 300 frame-sized crops could overflow the 32-bit offsets; real frames need far less. It runs,
    and its crops are the CPU's."""
    rng = np.random.default_rng(8)
    frame_hw, nm = (4320, 7680), 8
    box = letterbox_params(frame_hw, (640, 640))[0]
    protos = rng.standard_normal((nm, 160, 160)).astype(np.float32)
    coefs = rng.standard_normal((3, nm)).astype(np.float32)
    boxes = np.float32([[100, 200, 700, 600], [7000, 3900, 7680, 4320], [3000.5, 1000.25, 3400.75, 1500.5]])
    want = process_masks(coefs, protos, boxes, box)
    with GpuMasks(runtime, max_det=300, num_masks=nm, proto_hw=(160, 160), frame_hw=frame_hw) as stage:
        got = stage.run_host(coefs, protos, boxes, box)
    np.testing.assert_array_equal(got.offsets, want.offsets)
    for mine, theirs in zip(got.crops, want.crops, strict=True):
        assert mine.shape == theirs.shape and mine.size > 0
        assert np.mean(mine != theirs) < 1e-3  # only pixels whose logit sits at the threshold may differ


def test_a_frame_whose_crops_outgrow_32_bit_offsets_is_refused_in_one_line(emulated_runtime):
    """130 frame-sized boxes on an 8K frame need 4.3e9 crop bytes: the kernels see it (64-bit sums), write
    nothing, and the stage raises InferenceError (an RtdetectError: one line) instead of wrapping."""
    from rtdetect.errors import InferenceError

    frame_hw, nm, n = (4320, 7680), 2, 130
    box = letterbox_params(frame_hw, (640, 640))[0]
    protos = np.ones((nm, 160, 160), np.float32)
    coefs = np.ones((n, nm), np.float32)
    boxes = np.tile(np.float32([0, 0, 7680, 4320]), (n, 1))
    with GpuMasks(emulated_runtime, max_det=n, num_masks=nm, proto_hw=(160, 160), frame_hw=frame_hw) as stage:
        with pytest.raises(InferenceError, match=r"7680x4320 frame cover 4 GiB .*lower --max-det"):
            stage.run_host(coefs, protos, boxes, box)
