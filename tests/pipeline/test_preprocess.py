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


def test_box_roundtrip_real_image(data_dir):
    image = cv2.imread(str(data_dir / "bus.jpg"))
    box, (nh, nw) = letterbox_params(image.shape[:2], (640, 640))
    corners = np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
    mapped = corners * box.scale + np.array([box.pad_x, box.pad_y, box.pad_x, box.pad_y], np.float32)
    np.testing.assert_allclose(box.to_original(mapped), corners, atol=1e-3)
    assert (nh, nw) == (640, 480)


def test_float16_output_and_bad_input():
    tensor, _ = Preprocessor((32, 32), dtype=np.float16)(np.zeros((8, 8, 3), np.uint8))
    assert tensor.dtype == np.float16
    with pytest.raises(ValueError, match="uint8"):
        letterbox(np.zeros((8, 8), np.uint8), (32, 32))
