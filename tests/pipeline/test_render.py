import numpy as np
import pytest

from rtdetect.annotate import MaskAnnotator, Renderer, class_color
from rtdetect.types import BoxMasks, Detections


def test_colours_are_stable_per_class():
    assert class_color(3) == class_color(3) and class_color(3) != class_color(4)
    assert class_color(3) == class_color(23)  # the palette cycles


def test_masks_blend_only_mask_pixels():
    image = np.full((20, 30, 3), 100, np.uint8)
    masks = np.zeros((1, 20, 30), bool)
    masks[0, 5:10, 5:15] = True
    det = Detections([[0, 0, 30, 20]], [0.9], [2], BoxMasks.from_full(masks))
    out = MaskAnnotator(alpha=0.5).annotate(image.copy(), det)
    expected = np.round(100 * 0.5 + np.array(class_color(2)) * 0.5)
    assert np.all(out[5:10, 5:15] == expected)
    assert np.all(out[~masks[0]] == 100)


def test_renderer_draws_on_a_copy():
    image = np.zeros((60, 80, 3), np.uint8)
    det = Detections([[10, 10, 50, 40]], [0.8], [0])
    out = Renderer(["person"]).render(image, det, fps=12.0)
    assert image.sum() == 0 and out.sum() > 0
    edge = out[25, 8:13].astype(float)  # the box's left edge, anti-aliased: the class colour, dimmed
    brightest = edge[edge.sum(axis=1).argmax()]
    color = np.array(class_color(0), float)
    np.testing.assert_allclose(brightest / brightest.max(), color / color.max(), atol=0.05)


def _overlap(a, b):
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def test_label_tags_stay_inside_the_frame():
    from rtdetect.annotate.labels import LabelAnnotator

    # Boxes touching the right, top, bottom and left edges, with a long class name.
    det = Detections([[600, 0, 640, 40], [0, 440, 30, 480], [300, 0, 340, 480]], [0.9, 0.8, 0.7], [0, 0, 0])
    for text, (x1, y1, x2, y2) in LabelAnnotator(["a-rather-long-class-name"]).layout((480, 640, 3), det):
        assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480, (text, (x1, y1, x2, y2))


def test_label_tags_of_overlapping_boxes_do_not_cover_each_other():
    from rtdetect.annotate.labels import LabelAnnotator

    det = Detections([[200, 200, 300, 400], [205, 202, 305, 398], [210, 205, 300, 390]], [0.9, 0.8, 0.7], [0, 1, 2])
    rects = [rect for _, rect in LabelAnnotator(["person", "car", "dog"]).layout((480, 640, 3), det)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert _overlap(rects[i], rects[j]) == 0, rects


@pytest.mark.parametrize("height, width, minimum", [(480, 640, 12), (1080, 1920, 24), (2160, 3840, 48)])
def test_label_text_scales_with_the_frame(height, width, minimum):
    import cv2

    from rtdetect.annotate.labels import FONT, text_style

    scale, thickness = text_style(height, width)
    (_, text_height), _ = cv2.getTextSize("person 0.87", FONT, scale, thickness)
    assert minimum <= text_height <= minimum * 1.5


def test_label_tags_shrink_with_small_frames():
    """Was: a 12 px floor, so at 320x240 a tag took twice the share of the frame it takes at 640x480 and
    hid the objects it named."""
    from rtdetect.annotate.labels import LabelAnnotator

    def tag_share(height, width):
        det = Detections([[width / 4, height / 4, width / 2, height * 3 / 4]], [0.87], [0])
        ((_, (x1, y1, x2, y2)),) = LabelAnnotator(["person"]).layout((height, width, 3), det)
        return (y2 - y1) / height, (x2 - x1) / width

    small, large = tag_share(240, 320), tag_share(480, 640)
    assert small[0] <= large[0] * 1.4 and small[1] <= large[1] * 1.4, (small, large)


def test_label_tag_is_drawn_where_it_was_laid_out():
    from rtdetect.annotate.labels import LabelAnnotator

    image = np.zeros((480, 640, 3), np.uint8)
    det = Detections([[600, 100, 640, 200]], [0.9], [0])
    annotator = LabelAnnotator(["person"])
    ((_, (x1, y1, x2, y2)),) = annotator.layout(image.shape, det)
    annotator.annotate(image, det)
    assert image[y1:y2, x1:x2].any() and not image[:, :x1].any() and image[:, x2:].sum() == 0


def test_overlapping_masks_blend_in_order_like_the_formula():
    """Crops that overlap and touch the frame's edges: each mask pixel is round((1 - a) * pixel + a * colour)
    in float32, applied mask after mask, and no pixel outside every mask changes."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (41, 57, 3), dtype=np.uint8)
    full = rng.random((4, 41, 57)) < 0.5
    full[0, :, 40:] = full[1, :3] = full[2, 30:] = False
    full[3] = False
    full[3, 10:20, 0:5] = True
    class_ids = np.array([0, 5, 2, 5])
    det = Detections(np.tile([[0, 0, 57, 41]], (4, 1)), np.ones(4), class_ids, BoxMasks.from_full(full))
    alpha = 0.45
    expected = image.copy()
    for mask, cid in zip(full, class_ids):
        blended = expected[mask].astype(np.float32) * np.float32(1 - alpha) + \
            np.array(class_color(cid), np.float32) * np.float32(alpha)
        expected[mask] = np.round(blended).astype(np.uint8)
    out = MaskAnnotator(alpha).annotate(image.copy(), det)
    np.testing.assert_array_equal(out, expected)
