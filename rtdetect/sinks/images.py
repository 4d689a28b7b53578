"""Annotated images: one file per input image at its own size, each written atomically.

``ImageSink(folder, folder=True)`` writes ``folder/<frame.source>`` (the image's path relative to its
folder or glob root, so subfolders are kept and names never collide); ``ImageSink(path, folder=False)``
writes the one annotated image of a single-image run to ``path``. The format follows the extension.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import OutputError
from ..types import Frame
from ..atomic import atomic_path


class ImageSink:
    needs_render = True
    quit_requested = False

    def __init__(self, target: str, *, folder: bool) -> None:
        self.target = os.path.abspath(target)
        self.folder = folder
        self.written: list[str] = []

    def path_for(self, frame: Frame) -> str:
        """Where the annotated ``frame`` goes."""
        return os.path.join(self.target, frame.source) if self.folder else self.target

    def write(self, frame: Frame, detections, rendered: np.ndarray) -> None:
        path = self.path_for(frame)
        ok, encoded = cv2.imencode(os.path.splitext(path)[1], rendered)
        if not ok:
            raise OutputError(f"cannot encode an image for {path}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with atomic_path(path) as partial, open(partial, "wb") as out:
                out.write(encoded.tobytes())
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.written.append(path)

    def close(self, *, failed: bool = False) -> None:
        """Nothing to finalise: every image is complete once ``write`` returns."""
