"""NumPy reference of the mask blend kernel (kernels/masks.cu ``mask_blend``); the GPU matches it exactly."""
from __future__ import annotations

import numpy as np


def blend_masks_reference(image: np.ndarray, masks: np.ndarray, class_ids: np.ndarray, palette: np.ndarray,
                          alpha: float) -> np.ndarray:
    """Paint masks into a copy of ``image``, one after another.

    image: (H, W, 3) uint8 BGR; masks: (N, H, W) bool; class_ids: (N,) int; palette: (C, 3) uint8 BGR.
    Where mask i is set, each channel v becomes ``floor(v * (1 - alpha) + colour * alpha + 0.5)`` in float32
    (capped at 255), colour = palette[class_ids[i] mod C]; later masks paint over earlier ones. A negative
    class id hides its mask (not painted: the GPU pipeline hides the detections a class filter drops).
    """
    image = np.asarray(image)
    masks = np.asarray(masks, dtype=bool)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if masks.ndim != 3 or masks.shape[1:] != image.shape[:2] or len(masks) != len(class_ids):
        raise ValueError(f"masks must be (N, H, W) matching the image and class_ids, got {masks.shape}")
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(palette) == 0:
        raise ValueError("palette is empty")
    alpha32 = np.float32(alpha)
    keep = np.float32(1) - alpha32
    out = image.copy()
    for mask, class_id in zip(masks, np.asarray(class_ids, dtype=np.int64)):
        if class_id < 0:
            continue
        colour = palette[int(class_id) % len(palette)].astype(np.float32)
        pixels = out[mask].astype(np.float32)
        mixed = pixels * keep + colour * alpha32
        out[mask] = np.minimum(np.floor(mixed + np.float32(0.5)), np.float32(255)).astype(np.uint8)
    return out
