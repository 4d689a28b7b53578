"""Sinks take each processed frame: ``write(frame, detections, rendered)`` and ``close(failed=False)``
(``failed``: the run ended with an error; file sinks then replace no existing output, see ``sinks.output``).

``needs_render`` tells the pipeline whether the sink wants the annotated image.
"""
from .display import DisplaySink
from .images import ImageSink
from .jsonl import JsonlSink, frame_record
from .video import VideoSink

__all__ = ["DisplaySink", "ImageSink", "JsonlSink", "VideoSink", "frame_record"]
