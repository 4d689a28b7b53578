"""Sinks for benchmark runs: what a real run does with each frame, without keeping the output.

``video``: render and encode with the real ``VideoSink`` into a temporary .mp4 (deleted afterwards);
``render``: render only (annotated image discarded); ``none``: no rendering, no writing.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack

from ..sinks import VideoSink

SINK_MODES = {
    "video": "render + encode with VideoSink (mp4v) into a temporary .mp4, deleted after the run",
    "render": "render only, annotated image discarded",
    "none": "no render, no writer",
}


class DiscardSink:
    """Takes every frame and keeps nothing; ``needs_render`` decides whether the pipeline renders."""

    quit_requested = False

    def __init__(self, needs_render: bool) -> None:
        self.needs_render = needs_render
        self.frames = 0

    def write(self, frame, detections, rendered) -> None:
        self.frames += 1

    def close(self, *, failed: bool = False) -> None:
        pass


def open_sinks(mode: str, fps: float | None, stack: ExitStack) -> list:
    """The sinks for ``mode`` (see SINK_MODES); everything they create is removed when ``stack`` closes."""
    if mode not in SINK_MODES:
        raise ValueError(f"unknown sink mode {mode!r}: choose one of {', '.join(SINK_MODES)}")
    if mode == "none":
        return [DiscardSink(needs_render=False)]
    if mode == "render":
        return [DiscardSink(needs_render=True)]
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="rtdetect-bench-"))
    sink = VideoSink(os.path.join(folder, "bench.mp4"), fps)
    stack.callback(sink.close)
    return [sink]
