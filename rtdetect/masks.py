"""Instance masks for kept detections: coefficients × protos, cropped to the box, sampled at frame pixels.

For detection i with coefficients c_i (nm,) and protos P (nm, mh, mw) the mask logits are
``L_i = c_i @ P`` (mh, mw). A frame pixel (x, y) belongs to the mask when

* its centre lies in the detection's box (frame pixels): ``x1 <= x + 0.5 < x2`` and ``y1 <= y + 0.5 < y2``, and
* the logit, bilinearly sampled at the pixel centre mapped into proto coordinates, is > 0 (sigmoid > 0.5):
  ``u = ((x + 0.5) * scale + pad_x) * mw / W_in - 0.5`` (likewise v with y, pad_y, mh, H_in); samples
  outside the grid take the nearest edge value (as ``cv2.resize``'s replicate border).

Only pixels inside each box are ever computed (the crop comes before the upsampling), from logits of only the
proto cells the box samples, and the result stays box-local (``BoxMasks``: one crop per box), so time and
memory follow the boxes' area, not the frame's. This is the reference the CUDA masks kernel matches.
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
    """(N, nm) float32 coefficients × (nm, h, w) protos (the whole grid or any window of it) → (N, h, w) float32.

    NumPy's einsum, not BLAS: a cell's value does not depend on the window it was computed in (tested), so
    each box computes only its own window; and no BLAS thread pool competes with the model for the cores (a
    threaded sgemm of the whole grid took 100x longer than single-threaded on this busy 2-core machine)."""
    return np.einsum("nk,khw->nhw", np.asarray(coefs, dtype=np.float32), np.asarray(protos, dtype=np.float32))


def process_masks(coefs: np.ndarray, protos: np.ndarray, boxes: np.ndarray, letterbox: Letterbox) -> BoxMasks:
    """Box-local masks for kept detections.

    coefs: (N, nm) float32; protos: (nm, mh, mw) float32 (batch dimension removed);
    boxes: (N, 4) float32 xyxy in *frame* pixels. Returns ``BoxMasks`` over frame (H, W) = letterbox.source_hw
    whose crop i is exactly box i's pixel range (an empty box gives a 0x0 crop at the origin).
    """
    height, width = letterbox.source_hw
    if len(boxes) == 0:
        return BoxMasks.empty((height, width))
    coefs = np.asarray(coefs, dtype=np.float32)
    crops, offsets = [], []
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=np.float32)):
        c0, c1 = box_pixel_range(x1, x2, width)
        r0, r1 = box_pixel_range(y1, y2, height)
        if c0 >= c1 or r0 >= r1:
            crops.append(np.zeros((0, 0), dtype=bool))
            offsets.append((0, 0))
            continue
        crops.append(_box_crop(coefs[i:i + 1], protos, (r0, r1, c0, c1), letterbox))
        offsets.append((c0, r0))
    return BoxMasks(tuple(crops), np.asarray(offsets, np.int64), (height, width))


def _box_crop(coefs: np.ndarray, protos: np.ndarray, rect: tuple[int, int, int, int], letterbox: Letterbox) -> np.ndarray:
    """(1, nm) coefficients, (nm, mh, mw) protos → the (r1 - r0, c1 - c0) bool crop of frame rows r0:r1,
    columns c0:c1. Logits only over the proto cells the crop's taps reach; rows interpolated first, then columns."""
    r0, r1, c0, c1 = rect
    _, mh, mw = protos.shape
    in_h, in_w = letterbox.input_hw
    ylo, yhi, wy = _sample_axis(np.arange(r0, r1), letterbox.scale, letterbox.pad_y, mh, in_h)
    xlo, xhi, wx = _sample_axis(np.arange(c0, c1), letterbox.scale, letterbox.pad_x, mw, in_w)
    top, left = int(ylo[0]), int(xlo[0])  # taps are monotonic: the window is [first lower, last upper]
    window = mask_logits(coefs, protos[:, top:int(yhi[-1]) + 1, left:int(xhi[-1]) + 1])[0]
    rows = window[ylo - top] * (1 - wy)[:, None] + window[yhi - top] * wy[:, None]  # (h_box, taps)
    region = rows[:, xlo - left]                                                   # (h_box, w_box), in place:
    region *= 1 - wx                                                               # the same float32 maths
    upper = rows[:, xhi - left]
    upper *= wx
    region += upper
    return region > 0
