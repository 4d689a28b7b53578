"""Calibration frames for INT8: representative frames from a video, an image folder, or a mix.

``--calib-source`` names a video file, an image file, or a folder holding images and/or videos. The
``count`` frames are spread evenly over everything the source holds (all frames of all files in order),
so a long clip contributes its whole length rather than its first seconds. They are letterboxed exactly
as at inference (:class:`rtdetect.preprocess.Preprocessor`), so calibration sees the same input
distribution, padding included.

How many: hundreds. INT8 calibrated on a handful of images collapses accuracy (Ultralytics' Jetson guide
reports mAP 0.61 → 0.32); ``rtdetect build`` defaults to 500 frames. Tests use a few dozen for speed.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ...capture.images import IMAGE_EXTENSIONS, is_image_path, read_image
from ...capture.video import VideoFileSource
from ...errors import SourceError
from ...preprocess import Preprocessor

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv")
DEFAULT_CALIB_FRAMES = 500


def calibration_media(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The media files behind ``source``: a file as is; a folder's images and videos (sorted,
    non-recursive); a sequence of either, concatenated. Raises SourceError when nothing usable is found."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    media: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            media.extend(sorted(p for p in path.iterdir() if p.is_file() and _is_media(p)))
        elif path.is_file():
            media.append(path)
        else:
            raise SourceError(f"calibration source not found: {path}")
    if not media:
        kinds = ", ".join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
        raise SourceError(f"no calibration images or videos ({kinds}) in {source}")
    return media


def _is_media(path: Path) -> bool:
    return is_image_path(path.name) or path.name.lower().endswith(VIDEO_EXTENSIONS)


def _video_length(path: Path) -> int:
    """Frames in a video: the container's count, or (when it has none) counted by decoding."""
    with VideoFileSource(str(path)) as source:
        if source.frame_count:
            return source.frame_count
        return sum(1 for _ in source)


def media_lengths(media: Sequence[Path]) -> list[int]:
    """Frames per file: 1 for an image, the frame count for a video."""
    return [1 if is_image_path(p.name) else _video_length(p) for p in media]


def spread_indices(total: int, count: int) -> list[int]:
    """``min(count, total)`` positions in ``range(total)``, evenly spread (centred in equal strata)."""
    if total <= 0 or count <= 0:
        return []
    n = min(count, total)
    return [int((i + 0.5) * total / n) for i in range(n)]


def calibration_frames(source, count: int = DEFAULT_CALIB_FRAMES) -> Iterator[np.ndarray]:
    """Up to ``count`` frames, (H, W, 3) uint8 BGR, spread evenly over all frames of ``source``."""
    media = calibration_media(source)
    lengths = media_lengths(media)
    wanted = set(spread_indices(sum(lengths), count))
    start = 0
    for path, length in zip(media, lengths, strict=True):
        local = sorted(i - start for i in wanted if start <= i < start + length)
        start += length
        if not local:
            continue
        if is_image_path(path.name):
            yield read_image(str(path))
        else:
            yield from _video_frames(path, local)


def _video_frames(path: Path, indices: Sequence[int]) -> Iterator[np.ndarray]:
    """The frames at ``indices`` (sorted) of a video, decoded sequentially (seeking is unreliable)."""
    pending = list(indices)
    with VideoFileSource(str(path)) as source:
        for frame in source:
            if frame.index == pending[0]:
                yield frame.image
                pending.pop(0)
                if not pending:
                    return


def calibration_fingerprint(source, count: int, imgsz: tuple[int, int], recipe: str) -> str:
    """A short hash naming the calibration set and recipe: each file's absolute path, size and mtime,
    the frame count, the input size and the quantization recipe. Editing a file changes it."""
    digest = hashlib.sha256()
    for path in calibration_media(source):
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    digest.update(f"count={count}|imgsz={imgsz[0]}x{imgsz[1]}|recipe={recipe}".encode())
    return digest.hexdigest()[:20]


class LetterboxReader:
    """An ONNX Runtime ``CalibrationDataReader`` (duck-typed: ``get_next``) over BGR frames.

    Each ``get_next()`` returns ``{input_name: (1, 3, H, W) float32 in [0, 1]}`` (letterboxed, RGB),
    or None when the frames are exhausted. ``count`` is how many were handed out; ``on_frame(count)`` is
    called after each (progress reporting).
    """

    def __init__(self, frames: Iterable[np.ndarray], input_name: str, imgsz: tuple[int, int], *,
                 on_frame: Callable[[int], None] | None = None) -> None:
        self._frames = iter(frames)
        self._input_name = input_name
        self._preprocess = Preprocessor(imgsz, dtype=np.float32)
        self._on_frame = on_frame
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._frames, None)
        if image is None:
            return None
        tensor, _ = self._preprocess(image)
        self.count += 1
        if self._on_frame is not None:
            self._on_frame(self.count)
        return {self._input_name: tensor}
