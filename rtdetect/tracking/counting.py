"""Counting tracked objects that cross a line segment, per direction and class.

A track's anchor is the bottom centre of its box (where an object stands on the ground plane). A crossing
is counted when the anchor's motion from its previous position to the current one intersects the segment
(x1, y1)–(x2, y2): "in" when it moves from the segment's left side to its right side (the side of
``cross((p2 - p1), (a - p1)) > 0`` in image coordinates, y down), "out" the other way. Crossing back
counts in the other direction; standing on the line or moving along it counts nothing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..types import Detections


def parse_line(text: str) -> tuple[float, float, float, float]:
    """``"x1,y1,x2,y2"`` (frame pixels) → a tuple; ValueError naming the problem otherwise."""
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(np.isfinite(values)):
        raise ValueError(f"a count line is x1,y1,x2,y2 in frame pixels, got {text!r}")
    if values[:2] == values[2:]:
        raise ValueError(f"a count line needs two different points, got {text!r}")
    return values  # type: ignore[return-value]


def _side(p1: np.ndarray, p2: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) sign of the cross product (p2 - p1) × (points - p1): +1, -1, or 0 on the line."""
    d = p2 - p1
    return np.sign(d[0] * (points[:, 1] - p1[1]) - d[1] * (points[:, 0] - p1[0]))


@dataclass
class LineCounter:
    """Counts of tracks crossing one segment; ``update(detections)`` takes tracked detections."""

    line: tuple[float, float, float, float]
    crossed_in: Counter = field(default_factory=Counter)   # class id -> count
    crossed_out: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._p1 = np.array(self.line[:2], np.float64)
        self._p2 = np.array(self.line[2:], np.float64)
        self._last: dict[int, np.ndarray] = {}  # track id -> previous anchor

    def reset(self) -> None:
        """Forget where tracks were (a new source); the counts stay."""
        self._last.clear()

    def update(self, detections: Detections) -> None:
        if detections.track_ids is None or len(detections) == 0:
            return
        b = detections.xyxy.astype(np.float64)
        anchors = np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)
        prev = np.array([self._last.get(int(t), a) for t, a in zip(detections.track_ids, anchors)]).reshape(-1, 2)
        before, after = _side(self._p1, self._p2, prev), _side(self._p1, self._p2, anchors)
        # The motion must also pass between the segment's ends: going round its end does not count.
        for k in np.flatnonzero(before * after < 0):
            if self._straddles(prev[k], anchors[k]):
                counter = self.crossed_in if after[k] > 0 else self.crossed_out
                counter[int(detections.class_ids[k])] += 1
        for t, a, side in zip(detections.track_ids, anchors, after):
            if side != 0 or int(t) not in self._last:  # on the line: remember where it came from
                self._last[int(t)] = a

    def _straddles(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the segment's end points lie on different sides of (or on) the motion a→b."""
        s = _side(a, b, np.stack([self._p1, self._p2]))
        return bool(s[0] * s[1] <= 0)

    def totals(self, names) -> dict:
        """``{"line": [...], "in": {label: n}, "out": {label: n}}`` with labels from ``names``."""
        label = lambda c: names[c] if 0 <= c < len(names) else str(c)  # noqa: E731
        return {"line": [round(v, 2) for v in self.line],
                "in": {label(c): n for c, n in sorted(self.crossed_in.items())},
                "out": {label(c): n for c, n in sorted(self.crossed_out.items())}}
