"""Multi-object tracking: a ``Tracker`` (``ByteTracker`` by default; the table ``TRACKERS``) fills
``Detections.track_ids``; ``LineCounter`` counts crossings.

Names are imported on first access, so that reading the table (the command line's ``--tracker`` choices)
does not import every tracker's dependencies (SciPy for ByteTrack).
"""
from __future__ import annotations

import importlib

_HOMES = {"DEFAULT_TRACKER": "base", "TRACKERS": "base", "Tracker": "base", "tracker_factory": "base",
          "with_track_thresh": "base",
          "ByteTrackConfig": "bytetrack", "ByteTracker": "bytetrack", "LineCounter": "counting",
          "parse_line": "counting", "TrackingStage": "stage"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rtdetect.tracking' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
