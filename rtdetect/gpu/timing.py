"""CUDA events around the GPU stages of one frame, for per-stage timings in the benchmark.

pycuda (checked in its ``wrap_cudadrv.cpp``): ``Event()``, ``Event.record(stream)``, ``Event.synchronize()``,
``Event.time_since(other)`` (milliseconds from ``other`` to this event; both must have completed).
Events are created once per name and re-recorded for every frame.
"""
from __future__ import annotations

START = "__start__"


class EventClock:
    """Marks on one stream: ``start(stream)``, then ``lap(name, stream)`` after each stage's work is queued.
    After the last mark's event has completed, ``seconds()`` gives {name: seconds since the previous mark}."""

    def __init__(self, cuda) -> None:
        self._cuda = cuda
        self._events: dict = {}
        self._order: list[str] = []

    def start(self, stream) -> None:
        self._order = []
        self._record(START, stream)

    def lap(self, name: str, stream) -> None:
        self._record(name, stream)

    def _record(self, name: str, stream) -> None:
        event = self._events.get(name)
        if event is None:
            event = self._events[name] = self._cuda.Event()
        event.record(stream)
        self._order.append(name)

    @property
    def last(self):
        """The event of the latest mark (what a host thread waits on, or another stream waits for)."""
        return self._events[self._order[-1]]

    def close(self) -> None:
        """Drop the events (do it with their context current: pycuda cannot free them after it is gone)."""
        self._events, self._order = {}, []

    def seconds(self) -> dict[str, float]:
        timings, previous = {}, None
        for name in self._order:
            event = self._events[name]
            if previous is not None:
                timings[name] = event.time_since(previous) / 1e3
            previous = event
        return timings
