"""Frame sources. ``open_source(spec)`` turns a ``--source`` string into the right ``Source``."""
from __future__ import annotations

import glob
import os
from importlib import resources

from ..errors import SourceError
from .base import Source
from .camera import CameraSource
from .images import ImageSource, is_image_path
from .reconnect import ReconnectBudget
from .redact import redact_url
from .stream import StreamOptions, StreamSource, is_stream_url
from .video import VideoFileSource

DEMO = "demo"


def demo_clip_path() -> str:
    """The bundled demo clip: 5 s (50 frames, 768x576, 10 fps) of OpenCV's vtest.avi."""
    return str(resources.files("rtdetect") / "data" / "demo.mp4")


def open_source(spec: str, *, stream_options: StreamOptions | None = None) -> Source:
    """``webcam`` or a camera index, ``demo``, a stream URL, an image / folder / glob, or a video file.

    ``stream_options`` (timeout, reconnect budget, RTSP transport) apply to stream URLs. Returns an unopened
    Source (use it in ``with``); its ``name`` is safe to show (credentials redacted). Raises SourceError
    when ``spec`` names nothing usable. Spaces around ``spec`` are dropped unless it names a file or folder
    as given (``trail.mp4 `` can be a file's real name).
    """
    spec = str(spec)
    if not os.path.exists(spec):
        spec = spec.strip()
    if not spec:
        raise SourceError("empty --source")
    if spec == "webcam":
        return CameraSource(0)
    if spec.isdigit():
        return CameraSource(int(spec))
    if spec == DEMO:
        return VideoFileSource(demo_clip_path())
    if is_stream_url(spec):
        return StreamSource(spec, stream_options)
    if os.path.isdir(spec) or (glob.has_magic(spec) and not os.path.exists(spec)) or is_image_path(spec):
        return ImageSource(spec)
    return VideoFileSource(spec)


__all__ = ["CameraSource", "ImageSource", "ReconnectBudget", "Source", "StreamOptions", "StreamSource",
           "VideoFileSource", "demo_clip_path", "open_source", "redact_url"]
