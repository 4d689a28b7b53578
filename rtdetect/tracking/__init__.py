"""Multi-object tracking: ``ByteTracker`` fills ``Detections.track_ids``; ``LineCounter`` counts crossings."""
from .bytetrack import ByteTrackConfig, ByteTracker
from .counting import LineCounter, parse_line
from .stage import COUNTS_KEY, TrackingStage

__all__ = ["COUNTS_KEY", "ByteTrackConfig", "ByteTracker", "LineCounter", "TrackingStage", "parse_line"]
