"""What travels between the stages of a run, and the queue primitives every run loop is built from.

A :class:`WorkItem` is one frame on its way from capture to the sinks; a :class:`Stage` is one step between
them (the model's stages come from the ``Model``, see ``rtdetect.run.model``). Queues carry work items and
finally ``END_OF_INPUT``; every blocking call here gives up once the run's stop event is set.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple, Protocol, Sequence

import numpy as np

from ..types import Detections, Frame, Letterbox

END_OF_INPUT = object()
POLL_S = 0.05  # how often a blocked stage thread looks at the stop event


@dataclass
class WorkItem:
    """One frame on its way through the stages.

    ``timings``: seconds per stage name. ``tensor`` (1, 3, h, w) and ``letterbox``: the prepared input;
    ``outputs``: the engine's raw outputs; ``settings``: the post-processing in force when the frame entered
    the model (a settings change applies from the next frame on); ``painted``: the frame with its masks already
    painted on the GPU ((H, W, 3) uint8 BGR, or None); ``detections``: in frame pixels, once known.
    """

    frame: Frame
    timings: dict[str, float] = field(default_factory=dict)
    tensor: np.ndarray | None = None
    letterbox: Letterbox | None = None
    outputs: list[np.ndarray] | None = None
    settings: object | None = None
    painted: np.ndarray | None = None
    detections: Detections | None = None


class Stage(NamedTuple):
    """One step between capture and the sinks.

    ``run(item)`` fills its part of ``item`` and returns None, or starts that work and returns a function
    ``finish(stop)`` that finishes it, returning False when ``stop`` was set before the work could be
    finished. Up to ``depth`` items may be started and not yet finished; they are finished and passed on in
    arrival order. ``timed``: the runner records the stage's time per item (from its start, or from the
    previous item's finish if that was later, to its finish); otherwise ``run`` records its own.
    ``newest_only``: on a live source, an item waiting for this stage is replaced by a newer one (the stages up
    to the model: their work on a frame that is already stale is wasted and delays every later frame).
    ``streamed``: for files, the stage may instead take the whole iterator of items and yield them done, in
    order (the GPU's overlapped path uploads frame k + 1 while frame k computes).
    """

    name: str
    timed: bool
    run: Callable[[WorkItem], Callable[[threading.Event], bool] | None]
    depth: int = 1
    newest_only: bool = False
    streamed: Callable[[Iterator[WorkItem]], Iterator[WorkItem]] | None = None


class DetectionStage(Protocol):
    """A step after the model, in frame order: ``stage(frame, detections) -> detections`` (the tracker);
    ``name`` labels its timing."""

    name: str

    def __call__(self, frame: Frame, detections: Detections) -> Detections: ...


class NewestOnly(queue.Queue):
    """An unbounded queue that keeps only its newest item: a ``put`` replaces the waiting item (``dropped``
    counts them), so ``put`` never blocks. The end marker never replaces a frame."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self.dropped = 0

    def _put(self, item) -> None:
        if item is not END_OF_INPUT and self.queue:
            self.queue.clear()
            self.dropped += 1
        self.queue.append(item)


def dropped_in(queues: Sequence[queue.Queue]) -> int:
    """Items the newest-only queues among ``queues`` replaced."""
    return sum(q.dropped for q in queues if isinstance(q, NewestOnly))


def put_unless_stopped(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Blocking put that gives up (returns False) once ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def get_unless_stopped(q: queue.Queue, stop: threading.Event):
    """Blocking get that returns ``END_OF_INPUT`` once ``stop`` is set."""
    while not stop.is_set():
        try:
            return q.get(timeout=POLL_S)
        except queue.Empty:
            continue
    return END_OF_INPUT


def result_unless_stopped(future: Future, stop: threading.Event):
    """``future.result()`` (its exception raised), or None once ``stop`` is set before it is done."""
    while not stop.is_set():
        try:
            return future.result(timeout=POLL_S)
        except FutureTimeout:
            continue
    return None
