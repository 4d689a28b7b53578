import numpy as np
import pytest

from rtdetect.types import BoxMasks, Detections, Frame, Letterbox


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
                     masks=BoxMasks.from_full(np.eye(5, dtype=bool)[[[0], [1], [2]]].repeat(5, 1)))
    assert det.xyxy.dtype == np.float32 and det.class_ids.dtype == np.int32
    picked = det[np.array([True, False, True])]
    assert len(picked) == 2 and len(picked.masks) == 2 and picked.masks.frame_hw == (5, 5)
    assert picked.masks.bounds().tolist() == [[0, 0, 1, 5], [2, 0, 3, 5]]
    assert picked.scores.tolist() == pytest.approx([0.9, 0.7])
    assert len(det[1]) == 1 and det[1].class_ids.tolist() == [1]
    with pytest.raises(ValueError, match="disagree"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        Detections(np.zeros((2, 5)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="masks"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), masks=BoxMasks.from_full(np.zeros((3, 4, 4), bool)))
    with pytest.raises(TypeError, match="BoxMasks"):  # full-frame planes are not the storage
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), masks=np.zeros((2, 4, 4), bool))
    empty = Detections.empty((7, 9)).masks
    assert len(Detections.empty()) == 0 and len(empty) == 0 and empty.to_full().shape == (0, 7, 9)


def random_full_masks(seed, n=6, h=23, w=31):
    """(n, h, w) bool: random blobs in random rectangles, one mask empty, one touching every edge."""
    rng = np.random.default_rng(seed)
    full = np.zeros((n, h, w), bool)
    for m in full[1:]:
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
        m[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < 0.6
    full[-1, [0, -1], :] = True
    full[-1, :, [0, -1]] = True
    return full


@pytest.mark.parametrize("seed", range(5))
def test_box_masks_round_trip_and_select_like_detections(seed):
    full = random_full_masks(seed)
    masks = BoxMasks.from_full(full)
    np.testing.assert_array_equal(masks.to_full(), full)
    assert masks.areas().tolist() == full.sum(axis=(1, 2)).tolist()
    assert sum(c.size for c in masks.crops) <= full[0].size * len(full)
    for index in (2, -1, slice(1, 4), [4, 0, 4], np.array([True, False] * 3), np.zeros(0, int)):
        picked = masks[index]
        np.testing.assert_array_equal(picked.to_full(), full[[index] if isinstance(index, int) else index])
    np.testing.assert_array_equal(masks.full(3), full[3])
    det = Detections(np.zeros((6, 4)), np.zeros(6), np.zeros(6), masks)
    np.testing.assert_array_equal(det[[5, 1]].masks.to_full(), full[[5, 1]])


def test_box_masks_reject_what_they_cannot_hold():
    crop = np.ones((2, 3), bool)
    with pytest.raises(ValueError, match="leaves"):
        BoxMasks((crop,), [[29, 0]], (23, 31))  # 3 columns from x=29 pass the right edge
    with pytest.raises(ValueError, match="bool"):
        BoxMasks((crop.astype(np.uint8),), [[0, 0]], (23, 31))
    with pytest.raises(ValueError, match="offsets"):
        BoxMasks((crop,), [[0, 0], [1, 1]], (23, 31))
    with pytest.raises(ValueError, match="frame_hw"):
        BoxMasks((), np.zeros((0, 2), int), (0, 31))
    with pytest.raises(ValueError, match="boolean index"):
        BoxMasks((crop,), [[0, 0]], (23, 31))[np.array([True, False])]
    with pytest.raises(IndexError):
        BoxMasks((crop,), [[0, 0]], (23, 31))[[3]]


def test_letterbox_to_original_inverts_and_clips():
    box = Letterbox(scale=0.5, pad_x=10, pad_y=20, input_hw=(100, 100), source_hw=(120, 160))
    out = box.to_original(np.array([[10, 20, 60, 70], [0, 0, 200, 200]], np.float32))
    assert out[0].tolist() == [0, 0, 100, 100]
    assert out[1].tolist() == [0, 0, 160, 120]  # clipped to the frame
