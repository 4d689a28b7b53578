"""Still images: one file, a folder, or a glob. One frame per image, ``frame`` index 0, the file name as source.

Images are turned upright by their EXIF orientation, as ``cv2.imread``, Pillow's ``exif_transpose``
and photo viewers do: a phone photo stored sideways is detected, and its boxes and annotated copy are,
the way it is seen.

An image's size is read from its header (``imagesize``: no pixel is decoded) and an image above
``MAX_IMAGE_PIXELS`` is refused before decoding: a small file can claim a huge picture (a 137 KB JPEG
claiming 30000x30000 decodes to 2.7 GB). The header gives the stored size; turning it upright does not
change its pixel count, which is what the limit is on. In a folder or glob an unreadable or oversized
image is skipped, named on stderr, and the run goes on; a single image is an error. (OpenCV has no
header-only size query: ``haveImageReader`` only says a decoder exists, and its
``OPENCV_IO_MAX_IMAGE_PIXELS`` is process-wide, read once, 2^30 pixels by default, and fails with a
``cv2.error``, which is also caught here.)
"""
from __future__ import annotations

import glob
import os
import struct
import sys
from typing import Iterator

import cv2
import imagesize
import numpy as np

from ..errors import SourceError
from ..types import Frame
from .base import Source
from .convert import to_bgr8
from .video import check_readable_file

# What any picture decodes to: its own depth (16-bit kept, to_bgr8 scales it) and colours (gray, colour;
# alpha dropped), turned upright by its EXIF orientation. IMREAD_UNCHANGED would ignore the orientation.
DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MAX_IMAGE_PIXELS = 200_000_000  # 200 megapixels, 600 MB decoded as BGR: every real photo, no decompression bomb


def is_image_path(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def header_size(path: str) -> tuple[int, int]:
    """(width, height) from the image file's header, nothing decoded; SourceError when it has none."""
    try:
        width, height = imagesize.get(path)
    except (ValueError, struct.error, OSError):
        width = height = -1
    if width <= 0 or height <= 0:
        raise SourceError(f"no image size in the header (not an image, or damaged): {path}")
    return width, height


def read_image(path: str, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode one image file to (H, W, 3) uint8 BGR, upright by its EXIF orientation, or raise SourceError
    naming the file (also when its header claims more than ``max_pixels`` pixels, checked before decoding)."""
    check_readable_file(path, "image")
    width, height = header_size(path)
    if width * height > max_pixels:
        raise SourceError(f"{path} is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the "
                          f"{max_pixels / 1e6:.0f} megapixel limit for images")
    data = np.fromfile(path, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, DECODE_FLAGS)
    except cv2.error:  # OpenCV's own limits and decoder failures
        image = None
    if image is None:
        raise SourceError(f"not an image OpenCV can decode: {path}")
    try:
        return to_bgr8(image)
    except ValueError as exc:
        raise SourceError(f"{path}: {exc}") from None


def glob_root(pattern: str) -> str:
    """The folder part of ``pattern`` before its first wildcard (``photos/*/x.jpg`` → ``photos``)."""
    parts = []
    for part in os.path.normpath(pattern).split(os.sep):
        if glob.has_magic(part):
            break
        parts.append(part)
    return os.sep.join(parts) or os.curdir


class ImageSource(Source):
    """Images from a file, a directory (recursive, as ``rtdetect batch`` reads one; hidden files and
    folders left out) or a glob pattern (``**`` recursive), sorted by path.

    Each image is one frame (index 0, pts 0.0) whose ``source`` is its path relative to the folder or
    to the glob's root (the folder before the first wildcard), so images in different subfolders stay
    distinct. An image that cannot be decoded is skipped with a line naming it (``skipped`` lists them);
    when none can be decoded the source raises SourceError. A single image that cannot be decoded is an
    error at once, at open.

    A single file is decoded at open, so ``frame_hw`` is known; several images may differ in size, so
    their ``frame_hw`` stays None.
    """

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.spec = spec
        self.paths: list[str] = []
        self.root = os.curdir
        self.skipped: list[str] = []
        self._first: np.ndarray | None = None

    def input_files(self) -> list[str]:
        return list(self.paths)

    def relative_name(self, path: str) -> str:
        """``path`` as it appears in ``Frame.source``: relative to the folder or the glob's root."""
        return os.path.relpath(path, self.root)

    def _open(self) -> None:
        if os.path.isdir(self.spec):
            paths = sorted(p for p in glob.glob(os.path.join(glob.escape(self.spec), "**", "*"), recursive=True)
                           if is_image_path(p) and os.path.isfile(p))
            if not paths:
                raise SourceError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder: {self.spec}")
            self.root = self.spec
        elif glob.has_magic(self.spec):
            paths = sorted(p for p in glob.glob(self.spec, recursive=True) if is_image_path(p) and os.path.isfile(p))
            if not paths:
                raise SourceError(f"no images match: {self.spec}")
            self.root = glob_root(self.spec)
        else:
            self._first = read_image(self.spec)
            self.frame_hw = self._first.shape[:2]
            paths = [self.spec]
            self.root = os.path.dirname(self.spec) or os.curdir
        self.paths = paths
        self.frame_count = len(paths)

    def _frames(self) -> Iterator[Frame]:
        single = len(self.paths) == 1 and not os.path.isdir(self.spec)
        decoded = 0
        for path in self.paths:
            try:
                image = self._first if self._first is not None else read_image(path)
            except SourceError as exc:
                if single:
                    raise
                self.skipped.append(path)
                print(f"rtdetect: skipping {exc}", file=sys.stderr, flush=True)  # one bad file must not stop a folder
                continue
            decoded += 1
            yield Frame(image, 0, 0.0, self.relative_name(path))
        if self.paths and not decoded:
            raise SourceError(f"none of the {len(self.paths)} images in {self.spec} could be decoded")

    def _release(self) -> None:
        self.paths = []
        self._first = None
