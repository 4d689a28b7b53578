"""Instance masks for kept detections: coefficients × protos, cropped to the box, sampled at frame pixels.

For detection i with coefficients c_i (nm,) and protos P (nm, mh, mw) the mask logits are
``L_i = c_i @ P`` (mh, mw). A frame pixel (x, y) belongs to the mask when

* its centre lies in the detection's box (frame pixels): ``x1 <= x + 0.5 < x2`` and ``y1 <= y + 0.5 < y2``, and
* the logit, bilinearly sampled at the pixel centre mapped into proto coordinates, is > 0 (sigmoid > 0.5):
  ``u = ((x + 0.5) * scale + pad_x) * mw / W_in - 0.5`` (likewise v with y, pad_y, mh, H_in); samples
  outside the grid take the nearest edge value (as ``cv2.resize``'s replicate border).

Only pixels inside each box are ever computed (the crop comes before the upsampling), so the cost is the
boxes' area, not the frame's. This is the reference the CUDA masks kernel matches.
"""
from __future__ import annotations

import numpy as np

from .types import BoxMasks, Letterbox


def box_pixel_range(lo: float, hi: float, size: int) -> tuple[int, int]:
    """The pixel index range [start, stop) whose centres c + 0.5 satisfy lo <= c + 0.5 < hi, within [0, size)."""
    start = int(np.ceil(np.float32(lo) - np.float32(0.5)))
    stop = int(np.ceil(np.float32(hi) - np.float32(0.5)))
    return max(0, start), min(size, max(stop, 0))


def _sample_axis(pixels: np.ndarray, scale: float, pad: float, grid: int, input_size: int):
    """Bilinear taps along one axis: (lower index, upper index, upper weight) for each pixel, float32 maths."""
    f32 = np.float32
    coord = ((pixels.astype(f32) + f32(0.5)) * f32(scale) + f32(pad)) * f32(grid / input_size) - f32(0.5)
    coord = np.clip(coord, f32(0), f32(grid - 1))
    lower = np.floor(coord).astype(np.int64)
    upper = np.minimum(lower + 1, grid - 1)
    return lower, upper, (coord - lower.astype(f32)).astype(f32)


def mask_logits(coefs: np.ndarray, protos: np.ndarray) -> np.ndarray:
    """(N, nm) float32 coefficients × (nm, mh, mw) protos → (N, mh, mw) float32 logits."""
    nm, mh, mw = protos.shape
    flat = protos.reshape(nm, mh * mw).astype(np.float32, copy=False)
    return (np.asarray(coefs, dtype=np.float32) @ flat).reshape(-1, mh, mw)


def process_masks(coefs: np.ndarray, protos: np.ndarray, boxes: np.ndarray, letterbox: Letterbox) -> BoxMasks:
    """Box-local masks for kept detections.

    coefs: (N, nm) float32; protos: (nm, mh, mw) float32 (batch dimension removed);
    boxes: (N, 4) float32 xyxy in *frame* pixels. Returns ``BoxMasks`` over frame (H, W) = letterbox.source_hw
    whose crop i is exactly box i's pixel range (an empty box gives a 0x0 crop at the origin).
    """
    height, width = letterbox.source_hw
    if len(boxes) == 0:
        return BoxMasks.empty((height, width))
    logits = mask_logits(coefs, protos)
    crops, offsets = [], []
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=np.float32)):
        c0, c1 = box_pixel_range(x1, x2, width)
        r0, r1 = box_pixel_range(y1, y2, height)
        if c0 >= c1 or r0 >= r1:
            crops.append(np.zeros((0, 0), dtype=bool))
            offsets.append((0, 0))
            continue
        crops.append(_box_crop(logits[i], (r0, r1, c0, c1), letterbox))
        offsets.append((c0, r0))
    return BoxMasks(tuple(crops), np.asarray(offsets, np.int64), (height, width))


def _box_crop(logits: np.ndarray, rect: tuple[int, int, int, int], letterbox: Letterbox) -> np.ndarray:
    """(mh, mw) float32 logits → the (r1 - r0, c1 - c0) bool crop of frame rows r0:r1, columns c0:c1.

    Interpolates rows first, over only the proto columns the crop's taps reach, then columns."""
    r0, r1, c0, c1 = rect
    mh, mw = logits.shape
    in_h, in_w = letterbox.input_hw
    ylo, yhi, wy = _sample_axis(np.arange(r0, r1), letterbox.scale, letterbox.pad_y, mh, in_h)
    xlo, xhi, wx = _sample_axis(np.arange(c0, c1), letterbox.scale, letterbox.pad_x, mw, in_w)
    first, last = int(xlo[0]), int(xhi[-1]) + 1  # taps are monotonic in x
    band = logits[:, first:last]
    rows = band[ylo] * (1 - wy)[:, None] + band[yhi] * wy[:, None]          # (h_box, taps)
    region = rows[:, xlo - first] * (1 - wx)[None, :] + rows[:, xhi - first] * wx[None, :]  # (h_box, w_box)
    return region > 0
