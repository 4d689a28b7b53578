"""Video files: every frame, in order (throughput first), each with its presentation time in the container.

The path reaches OpenCV as the file system's bytes (``opencv_path``), so no file name can crash it.
"""
from __future__ import annotations

import os
from typing import Iterator

import cv2

from ..errors import SourceError
from ..files import opencv_path
from ..types import Frame
from .base import Source
from .convert import to_bgr8


PTS_DECIMALS = 9  # nanoseconds: finer than any container's clock; drops the float noise of tick * time base


def check_readable_file(path: str, what: str) -> None:
    """Raise SourceError unless ``path`` is an existing, non-empty regular file."""
    if not os.path.exists(path):
        raise SourceError(f"{what} not found: {path}")
    if not os.path.isfile(path):
        raise SourceError(f"{what} is not a file: {path}")
    if os.path.getsize(path) == 0:
        raise SourceError(f"{what} is empty (0 bytes): {path}")


def stated_frame_count(path: str) -> int | None:
    """The number of frames the container states for its first video stream, or None when it states none
    (Matroska, WebM, raw streams: OpenCV then estimates duration x average rate, wrong for variable rates,
    so frames "lost" against it would be invented). The file is opened by Python (any name works)."""
    import av

    try:
        with open(path, "rb") as handle, av.open(handle) as container:
            video = container.streams.video
            return int(video[0].frames) if video and video[0].frames > 0 else None
    except (OSError, av.FFmpegError):
        return None


class VideoFileSource(Source):
    """A video file decoded with OpenCV. Yields every frame; ``pts`` is the frame's presentation time in
    the container (seconds from the stream's start, right for variable frame rates), or index / fps for
    a container without times (a raw H.264 stream)."""

    def __init__(self, path: str) -> None:
        super().__init__(os.path.basename(path))
        self.path = path
        self._capture: cv2.VideoCapture | None = None
        self._first = None

    def input_files(self) -> list[str]:
        return [self.path]

    def _open(self) -> None:
        check_readable_file(self.path, "video file")
        capture = cv2.VideoCapture(opencv_path(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"not a video OpenCV can decode: {self.path}")
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise SourceError(f"no frame could be decoded from video: {self.path}")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 and fps < 1000 else None
        self.frame_count = stated_frame_count(self.path)
        self.frame_hw = first.shape[:2]
        self._capture, self._first = capture, first

    def _frames(self) -> Iterator[Frame]:
        capture, image, index = self._capture, self._first, 0
        self._first = None
        while image is not None:
            yield Frame(to_bgr8(image), index, self.frame_time(index), self.name)
            index += 1
            ok, image = capture.read()
            if not ok:
                image = None

    def frame_time(self, index: int) -> float | None:
        """The pts (s) of the frame just read, whose number in the file is ``index``: its time in the
        container, or index / fps when the container gives none (OpenCV then says 0 for every frame)."""
        seconds = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        if seconds > 0 or index == 0:
            return round(seconds, PTS_DECIMALS)
        return index / self.fps if self.fps else None

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
