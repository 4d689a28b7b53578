"""Multi-object tracking: ``ByteTracker`` fills ``Detections.track_ids``; ``LineCounter`` counts crossings."""
from .bytetrack import ByteTrackConfig, ByteTracker
from .counting import LineCounter, parse_line
from .stage import TrackingStage

__all__ = ["ByteTrackConfig", "ByteTracker", "LineCounter", "TrackingStage", "parse_line"]
