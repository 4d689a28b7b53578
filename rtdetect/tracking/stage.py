"""The tracking stage of the pipeline: a tracker's identities (ByteTrack by default), then line crossings
counted.

Runs after masks and before render, in one thread (frames arrive in order). The running counts of every
line travel with the frame's detections in ``Detections.extra[EXTRA_LINE_COUNTS]`` (a list of
``LineCounter.totals`` dicts), read by the renderer and the JSONL sink.
"""
from __future__ import annotations

from typing import Sequence

from ..types import EXTRA_LINE_COUNTS, Detections, Frame
from .base import TrackerFactory, tracker_factory
from .counting import LineCounter


class TrackingStage:
    """``__call__(frame, detections) -> Detections`` with track ids (and running line counts in ``extra``).
    ``tracker``: the factory of the ``Tracker`` to use (see ``tracking.base``; None: the default tracker),
    called with ``frame_rate`` (30 when the source does not say)."""

    name = "track"

    def __init__(self, names: Sequence[str], *, frame_rate: float | None = None,
                 lines: Sequence[tuple[float, float, float, float]] = (),
                 tracker: TrackerFactory | None = None) -> None:
        self.names = list(names)
        self.tracker = (tracker or tracker_factory(True))(frame_rate=frame_rate or 30.0)
        self.counters = [LineCounter(tuple(line)) for line in lines]

    def __call__(self, frame: Frame, detections: Detections) -> Detections:
        tracked = self.tracker.update(detections, frame.index)
        for counter in self.counters:
            counter.update(tracked)
        if self.counters:
            tracked.extra[EXTRA_LINE_COUNTS] = self.totals()
        return tracked

    def totals(self) -> list[dict]:
        """Per line: ``{"line": [...], "in": {label: n}, "out": {label: n}}`` so far."""
        return [counter.totals(self.names) for counter in self.counters]

    def reset(self) -> None:
        self.tracker.reset()
        for counter in self.counters:
            counter.reset()
