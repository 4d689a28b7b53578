"""The frames the backends room is handed (layer 3): INT8 calibration and ``--backend auto``'s trial run on
:class:`MediaFrames`, which reads them from media on disk, letterboxes them as the pipeline does and reads an
engine's detections with the model's own decoder and post-processing. The backends room itself
(:mod:`rtdetect.inference`) reads no media file and knows no letterbox, decoder or post-processing: it only
calls the :class:`rtdetect.inference.base.FrameSupply` it is given.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .capture import DEMO, demo_clip_path
from .capture.redact import redact_url
from .capture.sampling import calibration_frames, media_identity
from .preprocess import Preprocessor
from .types import Frame


def calibration_path(source: str) -> str:
    """A path the frame sampler understands for a ``--calib-source`` (``demo`` → the bundled clip)."""
    return demo_clip_path() if source == DEMO else source


def detections_of(engine, images: Sequence[np.ndarray]) -> list:
    """``engine``'s Detections on each image ((H, W, 3) uint8 BGR) as the command gets them: through a
    ``CpuModel`` (letterbox, the model's decoder, post-processing at the default thresholds, masks included:
    what the accuracy guard compares)."""
    from .run.model import CpuModel

    model = CpuModel(engine, warmup_runs=1)
    frames = [Frame(image, index, None, "trial") for index, image in enumerate(images)]
    return [item.detections for item in model.process_many(frames)]


class MediaFrames:
    """A :class:`rtdetect.inference.base.FrameSupply` over ``source``: a video, an image, a folder of both,
    or ``demo`` (the bundled clip, the default). Nothing is read until frames or the identity are asked for."""

    def __init__(self, source: str = DEMO) -> None:
        self.source = calibration_path(source)
        self.name = redact_url(source)

    def identity(self) -> str:
        """Changes with any file behind the source (path, size, mtime); SourceError when there is none."""
        return media_identity(self.source)

    def frames(self, count: int) -> Iterator[np.ndarray]:
        """Up to ``count`` frames, (H, W, 3) uint8 BGR, spread evenly over the source."""
        return calibration_frames(self.source, count)

    def prepare(self, image: np.ndarray, hw: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        """``image`` letterboxed to ``hw`` as the pipeline does: (1, 3, *hw) of ``dtype``, RGB in [0, 1]."""
        return Preprocessor(hw, dtype=dtype)(image)[0]

    def detections(self, engine, images: Sequence[np.ndarray]) -> list:
        return detections_of(engine, images)
