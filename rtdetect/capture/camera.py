"""Cameras by index (``webcam`` = 0), read with OpenCV; a camera that stops delivering ends the source."""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import SourceError
from .live import LiveSource


class CameraSource(LiveSource):
    def __init__(self, index: int) -> None:
        super().__init__(f"camera:{index}")
        self.index = index
        self._capture: cv2.VideoCapture | None = None

    def _open(self) -> None:
        capture = cv2.VideoCapture(self.index)
        ok = capture.isOpened()
        first = capture.read()[1] if ok else None
        if first is None:
            capture.release()
            raise SourceError(f"camera {self.index} is not available (no such device, or it delivers no frames)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        self.frame_hw = first.shape[:2]
        self._capture = capture
        self._start_reader()

    def _read(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        return image if ok else None

    def _close_device(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
