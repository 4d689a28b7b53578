"""The role a tracker plays, as code, and the table of the trackers rtdetect ships.

A tracker (``Tracker``) takes each frame's detections in order and returns those of its confirmed tracks
with ``track_ids`` filled; ``reset()`` forgets every track (a new source). It is made by a factory called
with the source's ``frame_rate`` (frames per second), so that times (how long a lost track is kept) can be
converted to frames. ``TRACKERS`` names the factories that ``--tracker`` offers (as ``module:attribute``,
imported only when chosen, so the command line does not import every tracker's dependencies); a new tracker
is a module of its own and one line in that table.
"""
from __future__ import annotations

import functools
import importlib
from types import MappingProxyType
from typing import Callable, Mapping, Protocol, Union, runtime_checkable

from ..errors import UsageError
from ..types import Detections


@runtime_checkable
class Tracker(Protocol):
    def update(self, detections: Detections, frame_index: int | None = None) -> Detections:
        """The detections of confirmed tracks, with ``track_ids`` (N,) int64 filled (masks follow their
        detection). ``frame_index``: the frame's position in its source, so gaps (dropped frames) count."""

    def reset(self) -> None:
        """Forget every track."""


TrackerFactory = Callable[..., Tracker]  # called as factory(frame_rate=FPS); see with_track_thresh
TRACKERS: Mapping[str, str] = MappingProxyType({
    "bytetrack": "rtdetect.tracking.bytetrack:ByteTracker",
})
DEFAULT_TRACKER = "bytetrack"

TrackChoice = Union[bool, str, TrackerFactory]  # True: the default tracker; a name in TRACKERS; a factory


def tracker_factory(track: TrackChoice) -> TrackerFactory | None:
    """The factory ``track`` asks for: None for False, the ``DEFAULT_TRACKER``'s for True, the table's entry
    for a name (UsageError naming the choices for an unknown one), a callable as it is."""
    if track is False or track is None:
        return None
    if track is True:
        track = DEFAULT_TRACKER
    if isinstance(track, str):
        if track not in TRACKERS:
            raise UsageError(f"unknown tracker {track!r}: choose one of {', '.join(TRACKERS)}")
        module, attribute = TRACKERS[track].split(":")
        return getattr(importlib.import_module(module), attribute)
    if callable(track):
        return track
    raise UsageError(f"track must be True, a tracker name ({', '.join(TRACKERS)}) or a tracker factory, "
                     f"not {type(track).__name__}")


def with_track_thresh(track: TrackChoice, track_thresh: float | None) -> TrackChoice:
    """``track`` with its tracker's score threshold set (``--track-thresh``: the score a detection needs to
    start a track or take part in the first association), as a factory that also passes ``track_thresh`` to
    the tracker (trackers of the table take it); ``track`` as it is when ``track_thresh`` is None. A threshold
    implies tracking (``track`` False: the default tracker)."""
    if track_thresh is None:
        return track
    return functools.partial(tracker_factory(track or True), track_thresh=track_thresh)
