"""What a run shows while it goes, on stderr: a tqdm bar for sources of known length, a status line for live
sources and stream lists (frames, FPS, stale frames dropped; per stream), refreshed in place on a terminal
and written as a plain line every ``PLAIN_EVERY_S`` otherwise (a log file gets a readable history, not a
thousand carriage returns)."""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from .metrics import FpsMeter

REFRESH_S = 0.5       # a terminal's line at most this often
PLAIN_EVERY_S = 10.0  # a log's line this often


class StatusLine:
    """``update(text)`` shows ``text`` as the run's one status line; ``close()`` ends it."""

    def __init__(self, stream: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self._clock = clock
        self._last = -float("inf")
        self._width = 0

    def update(self, text: str) -> None:
        now = self._clock()
        if now - self._last < (REFRESH_S if self.terminal else PLAIN_EVERY_S):
            return
        self._last = now
        if self.terminal:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.terminal and self._width:
            self.stream.write("\n")
            self.stream.flush()


class SourceStatus:
    """``on_frame`` of one live source (or one of unknown length): ``N frames, F FPS[, D dropped]``;
    ``dropped()`` reads the source's count of stale frames skipped."""

    def __init__(self, line: StatusLine, dropped: Callable[[], int]) -> None:
        self.line, self.dropped, self.frames, self.meter = line, dropped, 0, FpsMeter()

    def __call__(self, item) -> None:
        self.frames += 1
        fps = self.meter.tick()
        dropped = self.dropped()
        suffix = f", {dropped} stale dropped" if dropped else ""
        self.line.update(f"rtdetect: {self.frames} frames, {fps:.1f} FPS{suffix}")


class StreamsStatus:
    """``on_frame(name, item)`` of a stream list: ``name N (F FPS) | ...`` per stream, in list order."""

    def __init__(self, line: StatusLine, names: list[str]) -> None:
        self.line, self.names = line, list(names)
        self.frames = dict.fromkeys(self.names, 0)
        self.meters = {name: FpsMeter() for name in self.names}
        self.fps = dict.fromkeys(self.names, 0.0)

    def __call__(self, name: str, item) -> None:
        self.frames[name] += 1
        self.fps[name] = self.meters[name].tick()
        self.line.update("rtdetect: " + " | ".join(f"{n} {self.frames[n]} ({self.fps[n]:.1f} FPS)" for n in self.names))


def frame_bar(total: int):
    """A tqdm bar on stderr (frames, FPS, ETA) for ``total`` frames, and its ``on_frame``."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="frame", dynamic_ncols=True, file=sys.stderr)
    return bar, lambda item: bar.update(1)
