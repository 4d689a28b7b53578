"""Video files: every frame, in order (throughput first)."""
from __future__ import annotations

import os
from typing import Iterator

import cv2

from ..errors import SourceError
from ..types import Frame
from .base import Source
from .convert import to_bgr8


def check_readable_file(path: str, what: str) -> None:
    """Raise SourceError unless ``path`` is an existing, non-empty regular file."""
    if not os.path.exists(path):
        raise SourceError(f"{what} not found: {path}")
    if not os.path.isfile(path):
        raise SourceError(f"{what} is not a file: {path}")
    if os.path.getsize(path) == 0:
        raise SourceError(f"{what} is empty (0 bytes): {path}")


class VideoFileSource(Source):
    """A video file decoded with OpenCV. Yields every frame; ``pts`` from the container clock."""

    def __init__(self, path: str) -> None:
        super().__init__(os.path.basename(path))
        self.path = path
        self._capture: cv2.VideoCapture | None = None
        self._first = None

    def input_files(self) -> list[str]:
        return [self.path]

    def _open(self) -> None:
        check_readable_file(self.path, "video file")
        capture = cv2.VideoCapture(self.path)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"not a video OpenCV can decode: {self.path}")
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise SourceError(f"no frame could be decoded from video: {self.path}")
        fps = capture.get(cv2.CAP_PROP_FPS)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = fps if fps and fps > 0 and fps < 1000 else None
        self.frame_count = count if count > 0 else None
        self.frame_hw = first.shape[:2]
        self._capture, self._first = capture, first

    def _frames(self) -> Iterator[Frame]:
        capture, image, index = self._capture, self._first, 0
        self._first = None
        while image is not None:
            pts = index / self.fps if self.fps else None
            yield Frame(to_bgr8(image), index, pts, self.name)
            index += 1
            ok, image = capture.read()
            if not ok:
                image = None

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
