"""What every decoder returns, and the small pieces they share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError


class UnsupportedModelError(ModelError):
    """The model's outputs match no output layout rtdetect understands."""


@dataclass(frozen=True)
class Candidates:
    """Scored boxes that passed the confidence threshold, before NMS, in network-input pixels.

    xyxy: (M, 4) float32; scores: (M,) float32; class_ids: (M,) int32;
    mask_coefs: (M, nm) float32 for segmentation models, else None.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    mask_coefs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, index: np.ndarray) -> "Candidates":
        return Candidates(self.xyxy[index], self.scores[index], self.class_ids[index],
                          None if self.mask_coefs is None else self.mask_coefs[index])


# The non-finite rule, the one rule for non-finite model outputs, shared by these decoders and the GPU
# kernels (kernels/decode.cu): a candidate with a NaN in its box corners (input pixels) or among its scores
# (objectness or any class) is dropped, whichever class holds the NaN; +-Inf are ordinary values (an +Inf
# score passes; Inf - Inf corners are NaN and drop); an end-to-end class is truncated toward zero only when
# it lies in [0, nc), else the row is dropped (NaN, huge and negative classes have no int32).


def without_nan_boxes(candidates: Candidates) -> Candidates:
    """``candidates`` minus those whose box has a NaN corner (the non-finite rule above)."""
    bad = np.isnan(candidates.xyxy).any(axis=1)
    return candidates.take(np.flatnonzero(~bad)) if bad.any() else candidates


class Decoder:
    """One output layout. Subclasses set ``layout`` and implement ``decode(prediction, conf) -> Candidates``."""

    layout = ""
    needs_nms = True

    def __init__(self, num_classes: int, num_masks: int = 0) -> None:
        if num_classes < 1 or num_masks < 0:
            raise ValueError(f"a decoder needs num_classes >= 1 and num_masks >= 0, got {num_classes}, {num_masks}")
        self.num_classes = num_classes
        self.num_masks = num_masks

    def decode(self, prediction: np.ndarray, conf: float) -> Candidates:
        raise NotImplementedError


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """(M, 4) centre-size boxes → (M, 4) float32 corner boxes: x1 = cx - w/2 etc."""
    xywh = np.asarray(xywh, dtype=np.float32)
    half = xywh[:, 2:4] * np.float32(0.5)
    return np.concatenate([xywh[:, 0:2] - half, xywh[:, 0:2] + half], axis=1)


def best_class(class_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise best class of (M, nc) scores: (scores float32 (M,), class ids int32 (M,)).

    Ties go to the lower class id (``argmax`` returns the first maximum).
    """
    ids = np.argmax(class_scores, axis=1)
    return class_scores[np.arange(len(ids)), ids].astype(np.float32), ids.astype(np.int32)


def require_batch_of_one(name: str, array: np.ndarray, rank: int) -> np.ndarray:
    if array.ndim != rank or array.shape[0] != 1:
        raise UnsupportedModelError(f"{name} output must have rank {rank} and batch 1, got shape {tuple(array.shape)}")
    return array[0]
