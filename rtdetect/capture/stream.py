"""Network streams (RTSP, HTTP, RTMP): live, newest frame only, reconnecting with exponential backoff."""
from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from ..errors import SourceError
from .live import LiveSource

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(STREAM_SCHEMES)


class StreamSource(LiveSource):
    """A stream URL. Fails at open if it cannot be reached at all; once running, a dropped connection is
    retried ``max_retries`` times with backoff ``backoff_s * 2**k`` (capped at 8 s), said on stderr."""

    def __init__(self, url: str, *, max_retries: int = 5, backoff_s: float = 0.5) -> None:
        super().__init__(url)
        self.url = url
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._capture: cv2.VideoCapture | None = None

    def _connect(self) -> cv2.VideoCapture | None:
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _open(self) -> None:
        self._capture = self._connect()
        if self._capture is None:
            raise SourceError(f"cannot open stream: {self.url} (unreachable, or not a stream OpenCV can decode)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        size = (int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
        self.frame_hw = size if min(size) > 0 else None
        self._start_reader()

    def _read(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        if ok:
            return image
        return self._reconnect()

    def _reconnect(self) -> np.ndarray | None:
        for attempt in range(self.max_retries):
            delay = min(8.0, self.backoff_s * 2 ** attempt)
            print(f"rtdetect: stream {self.url} dropped; reconnecting in {delay:.1f} s "
                  f"(attempt {attempt + 1}/{self.max_retries})", file=sys.stderr)
            if self._stop.wait(delay):
                return None
            self._capture.release()
            capture = self._connect()
            if capture is not None:
                self._capture = capture
                ok, image = capture.read()
                if ok:
                    return image
        print(f"rtdetect: stream {self.url} lost after {self.max_retries} reconnection attempts", file=sys.stderr)
        return None

    def _release(self) -> None:
        self._stop_reader()
        if self._capture is not None:
            self._capture.release()
            self._capture = None
