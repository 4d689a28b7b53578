"""Annotated video file: the source's size and frame rate, written atomically (renamed into place on close)."""
from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import OutputError
from ..types import Frame
from .atomic import check_output_path, commit, partial_path

FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class VideoSink:
    """Opens its writer on the first frame (its size fixes the video's); later frames of another size
    (an image folder) are resized to it. ``fps`` defaults to 30 when the source has no clock."""

    needs_render = True

    def __init__(self, path: str, fps: float | None) -> None:
        self.path = check_output_path(path, tuple(FOURCC))
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self._partial = partial_path(self.path)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def _open(self, width: int, height: int) -> None:
        fourcc = cv2.VideoWriter_fourcc(*FOURCC[os.path.splitext(self.path)[1].lower()])
        writer = cv2.VideoWriter(self._partial, fourcc, self.fps, (width, height))
        if not writer.isOpened():
            raise OutputError(f"cannot open a video writer for {self.path} ({width}x{height})")
        self._writer, self._size = writer, (width, height)

    def write(self, frame: Frame, detections, rendered: np.ndarray) -> None:
        h, w = rendered.shape[:2]
        if self._writer is None:
            self._open(w, h)
        if (w, h) != self._size:
            rendered = cv2.resize(rendered, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(rendered)
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        commit(self._partial, self.path)
