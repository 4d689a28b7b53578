"""Live sources (cameras, streams): a reader thread keeps only the newest frame, so a slow consumer never
falls behind the scene (latency first: stale frames are dropped, and counted).

The reader thread owns the device: it reads, reconnects and finally releases it. A stop (``interrupt()``,
which the pipeline calls on Ctrl-C, a quit key or an error, and ``close()``) takes effect at once for the
consumer: the mailbox closes and iteration ends, even while the reader is still blocked inside a read or a
connection attempt; the reader then releases the device itself as soon as that call returns (within the
source's timeout).
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Iterator

import numpy as np

from ..types import Frame
from .base import Source
from .convert import to_bgr8

# How long close() waits for the reader to finish before leaving it to end on its own (it is a daemon).
JOIN_GRACE_S = 0.5
READER_THREAD_PREFIX = "capture:"


def reader_still_blocked() -> bool:
    """Whether a closed live source's reader thread is still inside a read or connection attempt (it ends on
    its own within the source's timeout). A process should not finalise the interpreter under such a thread:
    the libraries it is inside (FFmpeg, OpenCV) are torn down beneath it."""
    return any(t.name.startswith(READER_THREAD_PREFIX) and t.is_alive() for t in threading.enumerate())


class LatestFrame:
    """A one-slot mailbox: ``put`` overwrites, ``get`` waits for a frame newer than the last one taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[int, np.ndarray, float] | None = None
        self._taken = -1
        self._closed = False
        self.dropped = 0

    def put(self, seq: int, image: np.ndarray, arrived: float) -> None:
        """Offer frame ``seq`` (arrival time ``arrived``, monotonic seconds); ignored once closed."""
        with self._cond:
            if self._closed:
                return
            if self._item is not None and self._item[0] > self._taken:
                self.dropped += 1  # the consumer never saw the previous one
            self._item = (seq, image, arrived)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(self) -> tuple[int, np.ndarray, float] | None:
        """The newest unseen (seq, image, arrived), or None once closed and drained."""
        with self._cond:
            while not self._closed and (self._item is None or self._item[0] <= self._taken):
                self._cond.wait()
            if self._item is None or self._item[0] <= self._taken:
                return None
            self._taken = self._item[0]
            return self._item


class LiveSource(Source):
    """Base for live sources: subclasses open the device in ``_open`` (then call ``_start_reader``), and
    provide ``_read`` (the next picture, or None when the source ended; may reconnect) and ``_close_device``.

    After the end: ``lost`` says why the source ended on its own (None when it was stopped), ``size_changes``
    counts changes of the frame size. ``Frame.pts`` is the arrival time, seconds since the source opened.
    """

    is_live = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.lost: str | None = None
        self.size_changes = 0
        self._mailbox = LatestFrame()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._start_time = 0.0

    @property
    def frames_dropped(self) -> int:
        return self._mailbox.dropped

    def interrupt(self) -> None:
        """Stop now: iteration ends at once; the reader ends (and releases the device) after its current call."""
        self._stop.set()
        self._mailbox.close()

    def _start_reader(self) -> None:
        self._start_time = time.monotonic()
        self._thread = threading.Thread(target=self._reader, name=f"{READER_THREAD_PREFIX}{self.name}", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        seq, size = 0, None
        try:
            while not self._stop.is_set():
                image = self._read()
                if image is None:
                    break
                if size is not None and image.shape[:2] != size:
                    self._note_size_change(size, image.shape[:2], seq)
                size = image.shape[:2]
                self._mailbox.put(seq, image, time.monotonic())
                seq += 1
        except Exception as exc:  # handed to the consumer, which re-raises it
            self._failure = exc
        finally:
            self._mailbox.close()
            self._close_device()

    def _note_size_change(self, old: tuple[int, int], new: tuple[int, int], seq: int) -> None:
        self.size_changes += 1
        print(f"rtdetect: {self.name}: frame size changed from {old[1]}x{old[0]} to {new[1]}x{new[0]} at frame "
              f"{seq}; detections stay in each frame's own pixels", file=sys.stderr)

    def _read(self) -> np.ndarray | None:
        raise NotImplementedError

    def _close_device(self) -> None:
        raise NotImplementedError

    def _frames(self) -> Iterator[Frame]:
        while (item := self._mailbox.get()) is not None:
            seq, image, arrived = item
            yield Frame(to_bgr8(image), seq, arrived - self._start_time, self.name)
        if self._failure is not None and not self._stop.is_set():
            raise self._failure

    def _release(self) -> None:
        self.interrupt()
        if self._thread is None:
            self._close_device()
            return
        self._thread.join(timeout=JOIN_GRACE_S)
        self._thread = None
