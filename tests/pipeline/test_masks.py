import tracemalloc

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rtdetect.masks import box_pixel_range, process_masks
from rtdetect.preprocess import letterbox_params


def definition_masks(coefs, protos, boxes, box):
    """The definition in rtdetect/masks.py's docstring, written out pixel by pixel in float64.

    Returns (masks (N, H, W) bool, logits (N, H, W) float64 with NaN outside the boxes)."""
    nm, mh, mw = protos.shape
    in_h, in_w = box.input_hw
    h, w = box.source_hw
    grid = np.einsum("nk,khw->nhw", coefs.astype(np.float64), protos.astype(np.float64))
    logits = np.full((len(boxes), h, w), np.nan)
    for i, (x1, y1, x2, y2) in enumerate(boxes.astype(np.float64)):
        for y in range(h):
            if not y1 <= y + 0.5 < y2:
                continue
            v = min(max(((y + 0.5) * box.scale + box.pad_y) * mh / in_h - 0.5, 0.0), mh - 1.0)
            v0 = int(np.floor(v)); v1 = min(v0 + 1, mh - 1)
            row = grid[i, v0] * (1 - (v - v0)) + grid[i, v1] * (v - v0)
            for x in range(w):
                if not x1 <= x + 0.5 < x2:
                    continue
                u = min(max(((x + 0.5) * box.scale + box.pad_x) * mw / in_w - 0.5, 0.0), mw - 1.0)
                u0 = int(np.floor(u)); u1 = min(u0 + 1, mw - 1)
                logits[i, y, x] = row[u0] * (1 - (u - u0)) + row[u1] * (u - u0)
    return np.nan_to_num(logits, nan=-1.0) > 0, logits


def full_frame_route(coefs, protos, boxes, box):
    """Full-frame route, as a plain loop would do it: sigmoid, upsample to the input, un-pad, resize to
    the frame, then crop to the box. Two resamplings instead of one, so it differs near mask edges."""
    nm, mh, mw = protos.shape
    in_h, in_w = box.input_hw
    h, w = box.source_hw
    out = []
    for c, (x1, y1, x2, y2) in zip(coefs, boxes):
        prob = 1 / (1 + np.exp(-(c @ protos.reshape(nm, -1)).reshape(mh, mw)))
        full = cv2.resize(prob, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        top, left = int(box.pad_y), int(box.pad_x)
        inner = full[top:top + round(h * box.scale), left:left + round(w * box.scale)]
        frame = cv2.resize(inner, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
        xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5
        frame &= ((xs >= x1) & (xs < x2))[None, :] & ((ys >= y1) & (ys < y2))[:, None]
        out.append(frame)
    return np.array(out)


def smooth_protos(rng, nm=8, mh=40, mw=40):
    """Low-frequency protos, like a real network's, so masks are blobs rather than noise."""
    small = rng.normal(size=(nm, 5, 5)).astype(np.float32)
    return np.stack([cv2.resize(p, (mw, mh), interpolation=cv2.INTER_CUBIC) for p in small])


def random_case(seed, h, w):
    rng = np.random.default_rng(seed)
    box, _ = letterbox_params((h, w), (160, 160))
    protos = smooth_protos(rng)
    coefs = rng.normal(size=(4, 8)).astype(np.float32)
    xy = rng.uniform(0, [w * 0.5, h * 0.5], (4, 2))
    boxes = np.hstack([xy, xy + rng.uniform(20, [w * 0.5, h * 0.5], (4, 2))]).astype(np.float32)
    return coefs, protos, boxes, box


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), h=st.integers(60, 240), w=st.integers(60, 240))
def test_equals_the_definition(seed, h, w):
    """Pixel for pixel the definition, except where the float64 logit is within 1e-4 of the threshold
    (float32 rounding may fall either way there). No statistical tolerance, so no flakes."""
    coefs, protos, boxes, box = random_case(seed, h, w)
    local = process_masks(coefs, protos, boxes, box)
    assert len(local) == 4 and local.frame_hw == (h, w)
    for (x1, y1, x2, y2), (c0, r0, c1, r1) in zip(boxes, local.bounds()):  # each crop is its box's pixels
        assert (c0, c1) == box_pixel_range(x1, x2, w) and (r0, r1) == box_pixel_range(y1, y2, h)
    ours = local.to_full()
    expected, logits = definition_masks(coefs, protos, boxes, box)
    differ = ours != expected
    assert not differ[~(np.abs(np.nan_to_num(logits, nan=1.0)) < 1e-4)].any()


@pytest.mark.parametrize("seed", range(12))
def test_agrees_with_full_frame_route_up_to_the_edge(seed):
    """Against the common two-resize route: pixels may differ only near the mask's edge, at most
    3 proto cells away (the two routes interpolate differently; measured worst 2.5 cells over 400 seeds).
    Fixed seeds: deterministic."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(60, 500, 2))
    coefs, protos, boxes, box = random_case(seed, h, w)
    ours = process_masks(coefs, protos, boxes, box).to_full()
    theirs = full_frame_route(coefs, protos, boxes, box)
    cell_px = box.input_hw[1] / protos.shape[2] / box.scale  # frame pixels per proto cell
    for a, b in zip(ours, theirs):
        if not (a ^ b).any():
            continue
        inside = cv2.distanceTransform(a.astype(np.uint8), cv2.DIST_L2, 5)
        outside = cv2.distanceTransform((~a).astype(np.uint8), cv2.DIST_L2, 5)
        assert np.maximum(inside, outside)[a ^ b].max() <= 3 * cell_px + 1
        assert (a & b).sum() >= 0.8 * (a | b).sum() or (a | b).sum() < 200


def test_masks_stay_inside_their_boxes():
    box, _ = letterbox_params((300, 400), (640, 640))
    protos = np.ones((2, 160, 160), np.float32)  # every logit positive: the mask is exactly the box
    boxes = np.array([[10.2, 20.7, 100.5, 200.0], [390, 290, 400, 300], [50, 50, 50, 80]], np.float32)
    masks = process_masks(np.ones((3, 2), np.float32), protos, boxes, box)
    assert masks.areas().tolist() == [(100 - 10) * (200 - 21), 100, 0]  # zero-width box: empty
    assert masks.full(0)[21:200, 10:100].all() and masks.full(0).sum() == masks.areas()[0]
    assert masks.bounds()[:2].tolist() == [[10, 21, 100, 200], [390, 290, 400, 300]]
    empty = process_masks(np.zeros((0, 2)), protos, np.zeros((0, 4)), box)
    assert len(empty) == 0 and empty.frame_hw == (300, 400) and empty.to_full().shape == (0, 300, 400)
    assert box_pixel_range(-5, 3.2, 10) == (0, 3) and box_pixel_range(0.5, 0.5, 10) == (0, 0)


def test_memory_follows_the_boxes_not_the_frame():
    """A 4K frame with 100 small instances: computing, encoding and rendering the masks allocates a few
    times the boxes' area, where (N, H, W) planes would take 100 x 8.3 MB (the defect: 3 GB peak RSS)."""
    from rtdetect.annotate import Renderer
    from rtdetect.sinks.jsonl import frame_record
    from rtdetect.types import Detections, Frame

    h, w = 2160, 3840
    box, _ = letterbox_params((h, w), (640, 640))
    rng = np.random.default_rng(0)
    protos, coefs = smooth_protos(rng, mh=160, mw=160), rng.normal(size=(100, 8)).astype(np.float32)
    corners = np.stack(np.meshgrid(np.arange(10) * 380 + 5, np.arange(10) * 210 + 5), -1).reshape(-1, 2)
    boxes = np.hstack([corners, corners + [120, 200]]).astype(np.float32)  # 100 boxes of 120x200 px
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        masks = process_masks(coefs, protos, boxes, box)
        detections = Detections(boxes, np.full(100, 0.9), np.zeros(100), masks)
        record = frame_record(Frame(image, 0, None, "4k"), detections, ["person"])
        rendered = Renderer(["person"]).render(image, detections)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    boxes_area = 100 * 120 * 200
    assert peak < image.nbytes + 40 * boxes_area, peak  # one rendered copy + O(boxes), not 100 * h * w
    assert len(record["detections"]) == 100 and rendered.shape == image.shape


@pytest.mark.parametrize("seed", range(4))
def test_logits_of_a_window_equal_the_whole_grids(seed):
    """process_masks computes logits per box window only: a cell's value must not depend on the window
    (bit for bit), or a box's mask would change with its neighbours'."""
    from rtdetect.masks import mask_logits

    rng = np.random.default_rng(seed)
    protos, coefs = rng.normal(size=(32, 160, 160)).astype(np.float32), rng.normal(size=(5, 32)).astype(np.float32)
    whole = mask_logits(coefs, protos)
    for _ in range(50):
        (r0, r1), (c0, c1) = np.sort(rng.integers(0, 161, (2, 2)), axis=1)
        i = int(rng.integers(0, 5))
        np.testing.assert_array_equal(mask_logits(coefs[i:i + 1], protos[:, r0:r1, c0:c1])[0], whole[i, r0:r1, c0:c1])
