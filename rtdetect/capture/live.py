"""Live sources (cameras, streams): a reader thread keeps only the newest frame, so a slow consumer never
falls behind the scene (latency first: stale frames are dropped, and counted)."""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

import numpy as np

from ..types import Frame
from .base import Source
from .convert import to_bgr8

# read_fn() returns the next picture or None when the device/stream stopped delivering.
ReadFn = Callable[[], "np.ndarray | None"]


class LatestFrame:
    """A one-slot mailbox: ``put`` overwrites, ``get`` waits for a frame newer than the last one taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[int, np.ndarray] | None = None
        self._taken = -1
        self._closed = False
        self.dropped = 0

    def put(self, seq: int, image: np.ndarray) -> None:
        with self._cond:
            if self._item is not None and self._item[0] > self._taken:
                self.dropped += 1  # the consumer never saw the previous one
            self._item = (seq, image)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(self) -> tuple[int, np.ndarray] | None:
        """The newest unseen (seq, image), or None once closed and drained."""
        with self._cond:
            while not self._closed and (self._item is None or self._item[0] <= self._taken):
                self._cond.wait()
            if self._item is None or self._item[0] <= self._taken:
                return None
            self._taken = self._item[0]
            return self._item


class LiveSource(Source):
    """Base for live sources: subclasses provide ``_read`` (one picture or None) and may reconnect in it."""

    is_live = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._mailbox = LatestFrame()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_time = 0.0

    @property
    def frames_dropped(self) -> int:
        return self._mailbox.dropped

    def _start_reader(self) -> None:
        self._start_time = time.monotonic()
        self._thread = threading.Thread(target=self._reader, name=f"capture:{self.name}", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        seq = 0
        try:
            while not self._stop.is_set():
                image = self._read()
                if image is None:
                    break
                self._mailbox.put(seq, image)
                seq += 1
        finally:
            self._mailbox.close()

    def _read(self) -> np.ndarray | None:
        raise NotImplementedError

    def _frames(self) -> Iterator[Frame]:
        while True:
            item = self._mailbox.get()
            if item is None:
                return
            seq, image = item
            yield Frame(to_bgr8(image), seq, time.monotonic() - self._start_time, self.name)

    def _stop_reader(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
