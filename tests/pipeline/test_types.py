import numpy as np
import pytest

from rtdetect.types import Detections, Frame, Letterbox


def test_frame_rejects_wrong_images():
    with pytest.raises(ValueError, match="uint8"):
        Frame(np.zeros((4, 4, 3), np.float32), 0, None, "x")
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        Frame(np.zeros((4, 4), np.uint8), 0, None, "x")
    with pytest.raises(ValueError, match="empty"):
        Frame(np.zeros((0, 4, 3), np.uint8), 0, None, "x")
    with pytest.raises(ValueError, match="index"):
        Frame(np.zeros((4, 4, 3), np.uint8), -1, None, "x")


def test_detections_validate_and_select():
    det = Detections([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]], [0.9, 0.8, 0.7], [0, 1, 0],
                     masks=np.zeros((3, 5, 5), bool))
    assert det.xyxy.dtype == np.float32 and det.class_ids.dtype == np.int32
    picked = det[np.array([True, False, True])]
    assert len(picked) == 2 and picked.masks.shape == (2, 5, 5)
    assert picked.scores.tolist() == pytest.approx([0.9, 0.7])
    assert len(det[1]) == 1 and det[1].class_ids.tolist() == [1]
    with pytest.raises(ValueError, match="disagree"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        Detections(np.zeros((2, 5)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="masks"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), masks=np.zeros((3, 4, 4), bool))
    assert len(Detections.empty()) == 0 and Detections.empty((7, 9)).masks.shape == (0, 7, 9)


def test_letterbox_to_original_inverts_and_clips():
    box = Letterbox(scale=0.5, pad_x=10, pad_y=20, input_hw=(100, 100), source_hw=(120, 160))
    out = box.to_original(np.array([[10, 20, 60, 70], [0, 0, 200, 200]], np.float32))
    assert out[0].tolist() == [0, 0, 100, 100]
    assert out[1].tolist() == [0, 0, 160, 120]  # clipped to the frame
