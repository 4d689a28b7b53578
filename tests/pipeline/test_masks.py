import cv2
import numpy as np
from hypothesis import given, settings, strategies as st

from rtdetect.masks import box_pixel_range, process_masks
from rtdetect.preprocess import letterbox_params


def independent_masks(coefs, protos, boxes, box):
    """Full-frame route, as a plain loop would do it: sigmoid, upsample to the input, un-pad, resize to
    the frame, then crop to the box."""
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


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), h=st.integers(60, 500), w=st.integers(60, 500))
def test_agrees_with_full_frame_route(seed, h, w):
    rng = np.random.default_rng(seed)
    box, _ = letterbox_params((h, w), (160, 160))
    protos = smooth_protos(rng)
    coefs = rng.normal(size=(4, 8)).astype(np.float32)
    xy = rng.uniform(0, [w * 0.5, h * 0.5], (4, 2))
    boxes = np.hstack([xy, xy + rng.uniform(20, [w * 0.5, h * 0.5], (4, 2))]).astype(np.float32)
    ours = process_masks(coefs, protos, boxes, box)
    theirs = independent_masks(coefs, protos, boxes, box)
    assert ours.shape == (4, h, w) and ours.dtype == bool
    for a, b in zip(ours, theirs):
        union = (a | b).sum()
        if union > 200:  # tiny masks are all boundary: sampling details dominate
            assert (a & b).sum() / union > 0.9


def test_masks_stay_inside_their_boxes():
    rng = np.random.default_rng(3)
    box, _ = letterbox_params((300, 400), (640, 640))
    protos = np.ones((2, 160, 160), np.float32)  # every logit positive: the mask is exactly the box
    boxes = np.array([[10.2, 20.7, 100.5, 200.0], [390, 290, 400, 300], [50, 50, 50, 80]], np.float32)
    masks = process_masks(np.ones((3, 2), np.float32), protos, boxes, box)
    assert masks[0].sum() == (100 - 10) * (200 - 21)
    assert masks[0][21:200, 10:100].all()
    assert masks[1].sum() == 100 and masks[2].sum() == 0  # zero-width box: empty
    assert process_masks(np.zeros((0, 2)), protos, np.zeros((0, 4)), box).shape == (0, 300, 400)
    assert box_pixel_range(-5, 3.2, 10) == (0, 3) and box_pixel_range(0.5, 0.5, 10) == (0, 0)
