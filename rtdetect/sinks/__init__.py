"""Sinks take each processed frame: the :class:`Sink` protocol (``sinks.base``) says how."""
from .base import Sink, close_callback
from .display import DisplaySink
from .images import ImageSink
from .jsonl import JsonlSink, frame_record
from .video import VideoSink

__all__ = ["DisplaySink", "ImageSink", "JsonlSink", "Sink", "VideoSink", "close_callback", "frame_record"]
