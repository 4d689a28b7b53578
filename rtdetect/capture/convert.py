"""Bring any decoded picture to the (H, W, 3) uint8 BGR that ``Frame`` requires."""
from __future__ import annotations

import cv2
import numpy as np


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) or (H, W, 1), BGRA (H, W, 4) and 16-bit pictures → (H, W, 3) uint8 BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise ValueError(f"unsupported picture shape {image.shape}")
