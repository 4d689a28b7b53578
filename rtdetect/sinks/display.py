"""A window showing the annotated frames; ``q`` or Esc asks the pipeline to stop."""
from __future__ import annotations

import os
import sys

import cv2

from ..errors import OutputError

QUIT_KEYS = (ord("q"), ord("Q"), 27)


class DisplaySink:
    needs_render = True

    def __init__(self, title: str = "rtdetect") -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise OutputError("--show needs a display (DISPLAY is not set); use --save OUT.mp4 instead")
        self.title = title
        self.quit_requested = False
        self._open = False

    def write(self, frame, detections, rendered) -> None:
        cv2.imshow(self.title, rendered)
        self._open = True
        if (cv2.waitKey(1) & 0xFF) in QUIT_KEYS:
            self.quit_requested = True

    def close(self) -> None:
        if self._open:
            cv2.destroyWindow(self.title)
            self._open = False
