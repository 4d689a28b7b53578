import numpy as np

from rtdetect.render import MaskAnnotator, Renderer, class_color
from rtdetect.types import Detections


def test_colours_are_stable_per_class():
    assert class_color(3) == class_color(3) and class_color(3) != class_color(4)
    assert class_color(3) == class_color(23)  # the palette cycles


def test_masks_blend_only_mask_pixels():
    image = np.full((20, 30, 3), 100, np.uint8)
    masks = np.zeros((1, 20, 30), bool)
    masks[0, 5:10, 5:15] = True
    det = Detections([[0, 0, 30, 20]], [0.9], [2], masks)
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
