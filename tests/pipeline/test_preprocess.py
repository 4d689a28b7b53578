import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rtdetect.preprocess import PAD_VALUE, Preprocessor, letterbox, letterbox_params


def naive_letterbox(image, input_hw):
    """Straightforward statement of the letterbox: resize, pad with 114, BGR→RGB, /255, NCHW."""
    h, w = image.shape[:2]
    ih, iw = input_hw
    r = min(ih / h, iw / w)
    nw, nh = max(1, min(iw, round(w * r))), max(1, min(ih, round(h * r)))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else image
    top, left = round((ih - nh) / 2 - 0.1), round((iw - nw) / 2 - 0.1)
    canvas = np.full((ih, iw, 3), PAD_VALUE, np.uint8)
    canvas[top:top + nh, left:left + nw] = resized
    return canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255, (r, left, top)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 700), w=st.integers(1, 700), ih=st.sampled_from([320, 480, 640]), iw=st.sampled_from([320, 640]),
       seed=st.integers(0, 2**16))
def test_matches_naive_letterbox(h, w, ih, iw, seed):
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    tensor, box = letterbox(image, (ih, iw))
    expected, (r, left, top) = naive_letterbox(image, (ih, iw))
    assert tensor.shape == (1, 3, ih, iw) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor, expected, atol=1e-6)
    assert (box.scale, box.pad_x, box.pad_y) == (pytest.approx(r), left, top)


def test_reused_buffers_repaint_border_when_frame_size_changes():
    pre = Preprocessor((64, 64))
    wide = np.full((10, 40, 3), 7, np.uint8)   # pads top/bottom
    tall = np.full((40, 10, 3), 7, np.uint8)   # pads left/right
    pre(wide)
    tensor, _ = pre(tall)
    expected, _ = naive_letterbox(tall, (64, 64))
    np.testing.assert_allclose(tensor, expected, atol=1e-6)


@pytest.mark.parametrize("name, input_hw, hand, network_boxes, frame_boxes", [
    # bus.jpg, 810x1080, into 640x640: scale 640/1080, 480x640 resized, (640 - 480) / 2 = 80 columns each side.
    # Input pixels map back as x = (x' - 80) * 1080/640, y = y' * 1080/640.
    ("bus", (640, 640), (640 / 1080, 80, 0, 640, 480),
     [[80, 0, 560, 640], [128, 64, 176, 128], [0, 100, 80, 200], [550, 630, 640, 640]],
     [[0, 0, 810, 1080], [81, 108, 162, 216], [0, 168.75, 0, 337.5], [793.125, 1063.125, 810, 1080]]),
    # zidane.jpg, 1280x720, into 384x640: scale 0.5 (the width binds), 640x360 resized, (384 - 360) / 2 = 12 rows.
    # Input pixels map back as x = x' * 2, y = (y' - 12) * 2.
    ("zidane", (384, 640), (0.5, 0, 12, 360, 640),
     [[0, 12, 640, 372], [100, 50, 300, 250], [10, 0, 20, 12], [600, 370, 640, 384]],
     [[0, 0, 1280, 720], [200, 76, 600, 476], [20, 0, 40, 0], [1200, 716, 1280, 720]]),
])
def test_boxes_map_back_to_hand_computed_frame_coordinates(name, input_hw, hand, network_boxes, frame_boxes, data_dir):
    """Was: a round trip that inverted the letterbox with the very values it used forward (a wrong map passed).
    Here the letterbox and the frame coordinates are computed by hand; boxes in the padding clip to the edge."""
    image = cv2.imread(str(data_dir / f"{name}.jpg"))
    box, resized_hw = letterbox_params(image.shape[:2], input_hw)
    scale, pad_x, pad_y, new_h, new_w = hand
    assert (box.scale, box.pad_x, box.pad_y, resized_hw) == (pytest.approx(scale), pad_x, pad_y, (new_h, new_w))
    np.testing.assert_allclose(box.to_original(np.array(network_boxes, np.float32)), frame_boxes, atol=1e-3)


def test_float16_output_and_bad_input():
    tensor, _ = Preprocessor((32, 32), dtype=np.float16)(np.zeros((8, 8, 3), np.uint8))
    assert tensor.dtype == np.float16
    with pytest.raises(ValueError, match="uint8"):
        letterbox(np.zeros((8, 8), np.uint8), (32, 32))
