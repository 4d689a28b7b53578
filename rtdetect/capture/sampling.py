"""Frames sampled from media on disk: spread evenly over a video, an image, a folder of both, or the bundled
demo clip. What INT8 calibration and ``--backend auto``'s trial read (handed to the backends room by
:mod:`rtdetect.trial_inputs`, so that room reads no file itself).

The ``count`` frames are spread evenly over everything the source holds (all frames of all files in order),
so a long clip contributes its whole length rather than its first seconds.

How many for calibration: hundreds. INT8 calibrated on a handful of images collapses accuracy
(Ultralytics' Jetson guide reports mAP 0.61 → 0.32); ``rtdetect build`` defaults to 500 frames. Tests use a
few dozen for speed.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import SourceError
from .images import IMAGE_EXTENSIONS, is_image_path, read_image
from .video import VideoFileSource

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv")


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


def calibration_frames(source, count: int) -> Iterator[np.ndarray]:
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


def media_identity(source) -> str:
    """A hash naming the media behind ``source``: each file's absolute path, size and mtime (editing a file
    changes it). SourceError as :func:`calibration_media`."""
    digest = hashlib.sha256()
    for path in calibration_media(source):
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
