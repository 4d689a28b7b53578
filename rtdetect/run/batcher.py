"""Many sources through one model: each source's frames read side by side, batched into one inference call in
front of the same tail as a single run (``rtdetect.run.tail``: post-processing, tracker, render, sinks), one
tail and one :class:`RunResult` per source.

    reader per source ─▶ its inbox ─▶ batcher thread (letterbox each, stack (B, 3, H, W), ONE engine call)
        ─▶ consuming thread: per frame decode+NMS+masks (its own letterbox), detection stages, render, sinks

A live source keeps only its newest frame (its capture's mailbox, then a ``NewestOnly`` inbox); a batch takes
the newest frame of every live source that has one ready and never waits for one that has none (latency
first). A file is throughput first: every frame, in order (a bounded inbox its reader blocks on), and a batch
waits for the next frame of every file still running. Each source gets at most one frame per batch, so its
frames stay in order. All sources share the model's input (H, W), chosen once from the first frames (see
``run_many``); a model whose batch is fixed at 1 gets one call per frame (said once). A source that cannot be
opened, fails, or ends leaves the others running; a live source reconnects as a single run does. A stop
(``stop`` event, Ctrl-C) ends every source after the batch in hand, with every output finalised.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from ..capture import StreamOptions, open_source
from ..capture.redact import redact_text
from ..errors import RtdetectError
from ..sinks.base import Sink
from ..tracking.stage import TrackingStage
from .model import CpuModel
from .result import DONE, FAILED, RunResult
from .tail import Tail, apply_stages, tracking_stage
from .threads import join_all, start, start_pump
from .work import END_OF_INPUT, NewestOnly, WorkItem, dropped_in, get_unless_stopped, put_unless_stopped

FILE_INBOX = 2        # frames a file's reader may be ahead of the batcher
WAIT_S = 0.05         # how often a waiting batcher looks at the stop event


@dataclass(frozen=True)
class SourceSpec:
    """One source of a batched run: ``spec`` (what ``open_source`` opens; may hold credentials, never shown)
    and ``name`` (its outputs' folder, safe to show)."""

    spec: str
    name: str


@dataclass
class BatchedResult:
    """Every source's result (in the order given), the batches run and how many frames each held."""

    streams: list[RunResult]
    seconds: float = 0.0
    interrupted: bool = False
    batch_sizes: Counter = field(default_factory=Counter)

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.streams)


SinksFor = Callable[[str, object, list], Sequence[Sink]]  # (name, opened source, class names) -> its sinks


class _Lane:
    """One source's state while the batcher holds it."""

    def __init__(self, spec: SourceSpec, stream_options: StreamOptions | None) -> None:
        self.spec = spec
        self.source = open_source(spec.spec, stream_options=stream_options)
        self.live = self.source.is_live
        self.inbox: queue.Queue = NewestOnly() if self.live else queue.Queue(maxsize=FILE_INBOX)
        self.opened = threading.Event()  # its open attempt is over (done or failed)
        self.halt = threading.Event()    # read no further (stop, max_frames reached, its outputs failed)
        self.result = RunResult(self.source.name, spec.name)
        self.preprocess = None
        self.sinks: list[Sink] = []
        self.tail: Tail | None = None
        self.stages: list = []
        self.taken = 0  # frames the batcher took (read in the batcher's thread only)
        self.closed = False

    def stop_reading(self) -> None:
        self.halt.set()
        self.source.interrupt()  # a live source's iteration ends at once

    def fail(self, exc: BaseException) -> None:
        self.result.fail(redact_text(str(exc) or type(exc).__name__))
        self.stop_reading()


@dataclass
class _Batch:
    """Items of one engine call, each with its lane, and the lanes whose last frame came before this batch."""

    items: list = field(default_factory=list)
    ended: list = field(default_factory=list)


def run_many(specs: Sequence[SourceSpec], model_for: Callable[[list], CpuModel], sinks_for: SinksFor, *,
             track=False, count_lines: Sequence[tuple[float, float, float, float]] = (),
             max_frames: int | None = None, stream_options: StreamOptions | None = None,
             stop: threading.Event | None = None, on_frame: Callable[[str, WorkItem], None] | None = None,
             log: Callable[[str], None] | None = None) -> BatchedResult:
    """Run every source of ``specs`` through one model; returns each one's result.

    ``model_for(frame_hws)`` is called once every source has been opened (or has failed to), with the frame
    sizes of the opened ones, and returns the model whose engine takes batches of up to ``len(specs)`` frames.
    ``sinks_for(name, source, names)`` opens a source's sinks at its first frame; they are closed (kept unless
    it failed) when it ends. ``track`` / ``count_lines``: a tracker per source; ``max_frames``: per source.
    ``on_frame(name, item)``: after each frame written (progress, the live view).
    """
    return _Batcher(specs, model_for, sinks_for, track, tuple(count_lines), max_frames, stream_options,
                    on_frame, log).run(stop or threading.Event())


class _Batcher:
    def __init__(self, specs, model_for, sinks_for, track, count_lines, max_frames, stream_options, on_frame,
                 log) -> None:
        self._lanes = [_Lane(spec, stream_options) for spec in specs]
        self._model_for, self._sinks_for = model_for, sinks_for
        self._track, self._count_lines, self._max_frames = track, count_lines, max_frames
        self._on_frame = on_frame
        self._log = log or (lambda line: None)
        self._arrived = threading.Event()   # a reader put something in an inbox
        self._finished = threading.Event()  # the batcher reads no inbox any more
        self.model: CpuModel | None = None

    def run(self, stop: threading.Event) -> BatchedResult:
        result = BatchedResult([lane.result for lane in self._lanes])
        started = time.perf_counter()
        readers = [start(self._read, lane, name=f"read:{lane.spec.name}") for lane in self._lanes]
        errors: list[BaseException] = []
        batches: queue.Queue = queue.Queue(maxsize=1)  # one batch ahead: more would only age live frames
        batcher = None
        try:
            self._start(stop)
            batcher = start_pump(self._batches(stop, result.batch_sizes), batches, stop, errors, name="batch")
            self._consume(batches, stop)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            stop.set()
            for lane in self._lanes:
                lane.stop_reading()
            join_all([batcher] if batcher is not None else [])
            self._finished.set()
            join_all(readers)
            seconds = time.perf_counter() - started
            for lane in self._lanes:
                self._close(lane, interrupted=True)
                lane.result.seconds = seconds
            result.seconds = seconds
        if errors:
            raise errors[0]
        return result

    def _start(self, stop: threading.Event) -> None:
        """Wait for every source's open attempt, then make the model for the frame sizes found."""
        for lane in self._lanes:
            while not lane.opened.wait(WAIT_S):
                if stop.is_set():
                    raise KeyboardInterrupt
        sizes = [lane.source.frame_hw for lane in self._lanes if lane.result.status == DONE]
        if not sizes:  # no source opened: no model to load; each source's end is reported as it comes
            return
        self.model = self._model_for(sizes)
        for lane in self._lanes:
            lane.preprocess = self.model.preprocessor()
        if self.model.engine.max_batch == 1 and len(self._lanes) > 1:
            self._log("rtdetect: note: the model's batch is fixed at 1, so each stream's frame is its own "
                      "inference call (export it with a dynamic batch to run one call per batch)")

    def _read(self, lane: _Lane) -> None:
        """A reader thread: open the source, hand on its frames, then the end marker."""
        try:
            with lane.source as src:
                lane.opened.set()
                frames, begun = iter(src), time.perf_counter()
                for frame in frames:
                    item = WorkItem(frame, {"capture": time.perf_counter() - begun})
                    if lane.halt.is_set() or not put_unless_stopped(lane.inbox, item, lane.halt):
                        break
                    self._arrived.set()
                    begun = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - a bad source (missing, undecodable, unreachable) fails alone
            lane.fail(exc)
        finally:
            lane.opened.set()
            put_unless_stopped(lane.inbox, END_OF_INPUT, self._finished)
            self._arrived.set()

    # -- batching (its own thread) ------------------------------------------------------------------
    def _batches(self, stop: threading.Event, sizes: Counter) -> Iterator[_Batch]:
        """The batches, inferred, until every source ended or ``stop``."""
        active, pending = list(self._lanes), {}
        while (active or pending) and not stop.is_set():
            batch = self._gather(active, pending)
            if batch is None:
                self._arrived.wait(WAIT_S)
                continue
            if batch.items:
                items = [item for _, item in batch.items]
                begun = time.perf_counter()
                self.model.infer_batch(items)
                seconds = time.perf_counter() - begun
                for item in items:  # each frame waited for the whole call
                    item.timings["inference"] = seconds
                sizes[len(batch.items)] += 1
            yield batch

    def _gather(self, active: list, pending: dict) -> _Batch | None:
        """Take one frame per source where one is ready into ``pending``; the batch once every running file
        has one (live sources: whatever is ready now), else None (wait for more). A source whose frame is its
        ``max_frames``-th leaves ``active`` and is told to read no further. Frames are letterboxed here."""
        self._arrived.clear()
        ended = []
        for lane in list(active):
            if lane in pending:
                continue
            try:
                item = lane.inbox.get_nowait()
            except queue.Empty:
                continue
            if item is END_OF_INPUT:
                active.remove(lane)
                ended.append(lane)
                continue
            begun = time.perf_counter()
            self.model.prepare(item, lane.preprocess)
            item.timings["preprocess"] = time.perf_counter() - begun
            pending[lane] = item
            lane.taken += 1
            if lane.taken == self._max_frames:
                active.remove(lane)
                lane.stop_reading()
        files_waiting = any(not lane.live and lane not in pending for lane in active)
        if ended or (pending and not files_waiting):
            ready = [] if files_waiting else list(pending.items())
            for lane, _ in ready:
                del pending[lane]
            return _Batch(ready, ended + [lane for lane, _ in ready if lane not in active])
        return None

    # -- per source, in the consuming thread ------------------------------------------------------------
    def _consume(self, batches: queue.Queue, stop: threading.Event) -> None:
        while (batch := get_unless_stopped(batches, stop)) is not END_OF_INPUT:
            for lane, item in batch.items:
                self._deliver(lane, item)
            for lane in batch.ended:
                self._close(lane, interrupted=False)

    def _deliver(self, lane: _Lane, item: WorkItem) -> None:
        """The frame through its source's tail; an error there (e.g. its disk is full) fails this source only."""
        if lane.result.status != DONE:
            return
        try:
            self.model.finish(item)
            tail = lane.tail if lane.tail is not None else self._open_tail(lane)
            tail.write(apply_stages(item, lane.stages))
        except (RtdetectError, OSError) as exc:
            lane.fail(exc)
            self._close(lane, interrupted=False)
            return
        if self._on_frame is not None:
            self._on_frame(lane.spec.name, item)

    def _open_tail(self, lane: _Lane) -> Tail:
        """The source's sinks, tracker and tail, at its first frame."""
        names, src = self.model.names, lane.source
        tracker = tracking_stage(names, src.fps, track=self._track, count_lines=self._count_lines)
        lane.stages = [tracker] if tracker is not None else []
        for sink in self._sinks_for(lane.spec.name, src, names):
            lane.sinks.append(sink)  # each one closed with the lane, even when a later one fails to open
        lane.tail = Tail(names, lane.sinks, lane.result)
        return lane.tail

    def _close(self, lane: _Lane, *, interrupted: bool) -> None:
        """Close the source's sinks (kept unless it failed) and finish its result; once per source."""
        if lane.closed:
            return
        lane.closed = True
        result = lane.result
        for sink in lane.sinks:
            sink.close(failed=result.status == FAILED)
        src = lane.source
        result.frames_lost = src.frames_lost_within(self._max_frames)
        result.frames_dropped = src.frames_dropped + dropped_in([lane.inbox])
        result.line_counts = [t for stage in lane.stages if isinstance(stage, TrackingStage) for t in stage.totals()]
        if src.lost:
            result.lose(src.lost)
        elif interrupted and not src.exhausted and not (self._max_frames and result.frames >= self._max_frames):
            result.interrupt()
