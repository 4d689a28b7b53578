"""Many sources through one engine: each stream's frames read side by side, batched into one inference
call, and split back out into each stream's own post-processing, tracker and outputs.

    reader per stream ─▶ its inbox ─▶ batcher (letterbox each, stack (B, 3, H, W), ONE engine call)
        ─▶ calling thread: per frame decode+NMS+masks (its own letterbox), tracker, render, its own sinks

A live source keeps only its newest frame (its capture's mailbox, then a ``NewestOnly`` inbox); a batch
takes the newest frame of every live stream that has one ready and never waits for one that has none
(latency first). A file is throughput first: every frame, in order (a bounded inbox its reader blocks on),
and a batch waits for the next frame of every file still running. Each stream gets at most one frame per
batch, so its frames stay in order. All streams share the engine's input (H, W), chosen once from the
first frames (see ``MultiStreamRunner``); a model whose batch is fixed at 1 gets one call per frame
(said once). A stream that cannot be opened, fails, or ends leaves the others running; a live stream
reconnects as a single run does. A stop (``stop`` event, Ctrl-C) ends every stream after the batch in
hand, with every output finalised.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from ..annotate import Renderer
from ..capture import StreamOptions, open_source
from ..capture.redact import redact_text
from ..errors import RtdetectError
from ..outputs import open_sinks, plan_outputs
from ..pipeline import END_OF_INPUT, NewestOnly, Pipeline, get_unless_stopped, join_all, pump, put_unless_stopped
from ..preprocess import Preprocessor
from ..types import Frame
from .lists import StreamEntry

DONE, FAILED, INTERRUPTED, LOST = "done", "failed", "interrupted", "lost"
FILE_INBOX = 2        # frames a file's reader may be ahead of the batcher
WAIT_S = 0.05         # how often a waiting batcher looks at the stop event
JSONL_NAME, VIDEO_NAME = "detections.jsonl", "annotated.mp4"


@dataclass(frozen=True)
class StreamOutputs:
    """What each stream writes under ``output_dir/<name>/``: the JSONL always, the annotated video with
    ``save``; ``track``: a tracker per stream (True: the default; a name of ``tracking.TRACKERS``);
    ``max_frames``: stop each stream after that many frames."""

    output_dir: str
    save: bool = False
    track: bool | str = False
    max_frames: int | None = None


@dataclass
class StreamResult:
    """One stream's outcome: ``status`` done | failed | lost (a live stream whose reconnect budget was spent)
    | interrupted; ``outputs``: each output's path relative to the output folder → size in bytes."""

    name: str
    source: str
    status: str = DONE
    frames: int = 0
    detections: int = 0
    frames_lost: int = 0
    frames_dropped: int = 0
    error: str | None = None
    outputs: dict[str, int] = field(default_factory=dict)


@dataclass
class MultiStreamResult:
    """Every stream's result (in list order), the batches run and how many frames each held."""

    streams: list[StreamResult]
    seconds: float = 0.0
    interrupted: bool = False
    batch_sizes: Counter = field(default_factory=Counter)

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.streams)


class _Stream:
    """A stream's state while the runner holds it."""

    def __init__(self, entry: StreamEntry, stream_options: StreamOptions | None) -> None:
        self.entry = entry
        self.source = open_source(entry.spec, stream_options=stream_options)
        self.live = self.source.is_live
        self.inbox: queue.Queue = NewestOnly() if self.live else queue.Queue(maxsize=FILE_INBOX)
        self.opened = threading.Event()  # its open attempt is over (done or failed)
        self.halt = threading.Event()    # read no further (stop, --max-frames reached, its outputs failed)
        self.result = StreamResult(entry.name, self.source.name)
        self.preprocess: Preprocessor | None = None
        self.sinks: list | None = None
        self.renderer: Renderer | None = None
        self.tracker = None
        self.taken = 0  # frames the batcher took (read in the batcher's thread only)
        self.closed = False

    def stop_reading(self) -> None:
        self.halt.set()
        interrupt = getattr(self.source, "interrupt", None)
        if interrupt is not None:  # a live source's iteration ends at once
            interrupt()

    def fail(self, exc: BaseException) -> None:
        if self.result.error is None:
            self.result.status, self.result.error = FAILED, redact_text(str(exc) or type(exc).__name__)
        self.stop_reading()


@dataclass
class _Batch:
    """Frames of one engine call, each with its stream, letterbox and outputs (batch index split off), and
    the streams whose last frame came before this batch."""

    items: list = field(default_factory=list)
    ended: list = field(default_factory=list)


class MultiStreamRunner:
    """``MultiStreamRunner(entries, pipeline_for, outputs).run(stop)`` → :class:`MultiStreamResult`.

    ``pipeline_for(frame_hws)`` is called once every source has been opened (or has failed to), with the
    frame sizes of the opened ones, and returns the :class:`Pipeline` whose engine takes batches of up to
    ``len(entries)`` frames (its ``engine.max_batch``; ``pipeline.postprocess`` decodes each frame). Outputs
    are the single-run sinks (JSONL, annotated video), finalised atomically when a stream ends.
    """

    def __init__(self, entries: Sequence[StreamEntry], pipeline_for: Callable[[list], Pipeline],
                 outputs: StreamOutputs, *, stream_options: StreamOptions | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self._streams = [_Stream(entry, stream_options) for entry in entries]
        self._pipeline_for = pipeline_for
        self._outputs = outputs
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._arrived = threading.Event()   # a reader put something in an inbox
        self._finished = threading.Event()  # the batcher reads no inbox any more
        self.pipeline: Pipeline | None = None

    # -- the run ------------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> MultiStreamResult:
        stop = stop or threading.Event()
        result = MultiStreamResult([s.result for s in self._streams])
        start = time.perf_counter()
        readers = [threading.Thread(target=self._read, args=(s,), name=f"rtdetect:read:{s.entry.name}", daemon=True)
                   for s in self._streams]
        for thread in readers:
            thread.start()
        errors: list[BaseException] = []
        results: queue.Queue = queue.Queue(maxsize=1)  # one batch ahead: more would only age live frames
        batcher = threading.Thread(target=pump, args=(self._batches(stop, result.batch_sizes), results,
                                                                stop, errors), name="rtdetect:batch", daemon=True)
        try:
            self._start(stop)
            batcher.start()
            self._consume(results, stop)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            stop.set()
            for stream in self._streams:
                stream.stop_reading()
            join_all([batcher] if batcher.is_alive() else [])
            self._finished.set()
            join_all(readers)
            self._close_all(interrupted=True)
            result.seconds = time.perf_counter() - start
        if errors:
            raise errors[0]
        return result

    def _start(self, stop: threading.Event) -> None:
        """Wait for every source's open attempt, then make the pipeline for the frame sizes found."""
        for stream in self._streams:
            while not stream.opened.wait(WAIT_S):
                if stop.is_set():
                    raise KeyboardInterrupt
        sizes = [s.source.frame_hw for s in self._streams if s.result.error is None]
        if not sizes:  # no source opened: no model to load; each stream's end is reported as it comes
            return
        self.pipeline = self._pipeline_for(sizes)
        engine = self.pipeline.engine
        for stream in self._streams:
            stream.preprocess = Preprocessor(engine.input_hw, dtype=engine.input_dtype)
        if engine.max_batch == 1 and len(self._streams) > 1:
            self._log("rtdetect: note: the model's batch is fixed at 1, so each stream's frame is its own "
                      "inference call (export it with a dynamic batch to run one call per batch)")

    def _read(self, stream: _Stream) -> None:
        """A reader thread: open the source, hand on its frames, then the end marker."""
        try:
            with stream.source as src:
                stream.opened.set()
                for frame in src:
                    if stream.halt.is_set() or not put_unless_stopped(stream.inbox, frame, stream.halt):
                        break
                    self._arrived.set()
        except Exception as exc:  # noqa: BLE001 - a bad source (missing, undecodable, unreachable) fails alone
            stream.fail(exc)
        finally:
            stream.opened.set()
            put_unless_stopped(stream.inbox, END_OF_INPUT, self._finished)
            self._arrived.set()

    # -- batching (its own thread) ------------------------------------------------------------------
    def _batches(self, stop: threading.Event, sizes: Counter) -> Iterator[_Batch]:
        """The batches, inferred, until every stream ended or ``stop`` (``pump`` runs this in its
        own thread, handing each batch to the calling thread)."""
        active, pending = list(self._streams), {}
        while (active or pending) and not stop.is_set():
            batch = self._gather(active, pending)
            if batch is None:
                self._arrived.wait(WAIT_S)
                continue
            self._infer(batch)
            if batch.items:
                sizes[len(batch.items)] += 1
            yield batch

    def _gather(self, active: list, pending: dict) -> _Batch | None:
        """Take one frame per stream where one is ready into ``pending``; the batch once every running
        file has one (live streams: whatever is ready now), else None (wait for more). A stream whose
        frame is its ``max_frames``-th leaves ``active`` and is told to read no further."""
        self._arrived.clear()
        ended = []
        for stream in list(active):
            if stream in pending:
                continue
            try:
                item = stream.inbox.get_nowait()
            except queue.Empty:
                continue
            if item is END_OF_INPUT:
                active.remove(stream)
                ended.append(stream)
            else:
                pending[stream] = item
                stream.taken += 1
                if stream.taken == self._outputs.max_frames:
                    active.remove(stream)
                    stream.stop_reading()
        files_waiting = any(not s.live and s not in pending for s in active)
        if ended or (pending and not files_waiting):
            ready = [] if files_waiting else list(pending.items())
            for stream, _ in ready:
                del pending[stream]
            return _Batch(ready, ended + [s for s, _ in ready if s not in active])
        return None

    def _infer(self, batch: _Batch) -> None:
        """Letterbox every frame, stack them, run the engine once (or once per ``max_batch`` frames), and
        replace each item by (stream, frame, letterbox, its outputs)."""
        if not batch.items:
            return
        prepared = [stream.preprocess(frame.image) for stream, frame in batch.items]
        tensor = np.concatenate([t for t, _ in prepared])  # (B, 3, H, W)
        engine = self.pipeline.engine
        limit = engine.max_batch or len(prepared)
        outputs: list[list[np.ndarray]] = []
        for first in range(0, len(prepared), limit):
            chunk = engine.infer(tensor[first:first + limit])
            outputs.extend([o[k:k + 1] for o in chunk] for k in range(len(chunk[0])))
        batch.items = [(stream, frame, box, outs)
                       for (stream, frame), (_, box), outs in zip(batch.items, prepared, outputs)]

    # -- per stream, in the calling thread -----------------------------------------------------------
    def _consume(self, results: queue.Queue, stop: threading.Event) -> None:
        while (batch := get_unless_stopped(results, stop)) is not END_OF_INPUT:
            for stream, frame, box, outs in batch.items:
                self._deliver(stream, frame, box, outs)
            for stream in batch.ended:
                self._close(stream, interrupted=False)

    def _deliver(self, stream: _Stream, frame: Frame, box, outs: list[np.ndarray]) -> None:
        """Post-process one frame for its stream and write it to that stream's sinks; an error there
        (e.g. its disk is full) fails this stream only."""
        if stream.result.status != DONE:
            return
        try:
            detections, _ = self.pipeline.postprocess(outs, box)
            if stream.tracker is not None:
                detections = stream.tracker(frame, detections)
            sinks = stream.sinks if stream.sinks is not None else self._open_sinks(stream)
            rendered = stream.renderer.render(frame.image, detections) if self._outputs.save else None
            for sink in sinks:
                sink.write(frame, detections, rendered)
        except (RtdetectError, OSError) as exc:
            stream.fail(exc)
            self._close(stream, interrupted=False)
            return
        stream.result.frames += 1
        stream.result.detections += len(detections)

    def _open_sinks(self, stream: _Stream) -> list:
        """The stream's JSONL (and video) under ``output_dir/<name>/``, opened at its first frame."""
        folder = os.path.join(self._outputs.output_dir, stream.entry.name)
        os.makedirs(folder, exist_ok=True)
        src, names = stream.source, self.pipeline.names
        plan = plan_outputs(src, save=os.path.join(folder, VIDEO_NAME) if self._outputs.save else None,
                            json_path=os.path.join(folder, JSONL_NAME), show=False)
        stream.sinks = []
        for sink in open_sinks(plan, None if src.is_live else src.fps, names):
            stream.sinks.append(sink)
        stream.renderer = Renderer(names) if self._outputs.save else None
        if self._outputs.track:
            from ..tracking import TrackingStage, tracker_factory

            stream.tracker = TrackingStage(names, frame_rate=src.fps, tracker=tracker_factory(self._outputs.track))
        return stream.sinks

    def _close(self, stream: _Stream, *, interrupted: bool) -> None:
        """Finalise the stream's outputs (kept unless it failed) and its result; once per stream."""
        if stream.closed:
            return
        stream.closed = True
        result, sinks = stream.result, stream.sinks or []
        for sink in sinks:
            sink.close(failed=result.status == FAILED)
        src = stream.source
        result.frames_lost = src.frames_lost_within(self._outputs.max_frames)
        inbox_dropped = stream.inbox.dropped if isinstance(stream.inbox, NewestOnly) else 0
        result.frames_dropped = src.frames_dropped + inbox_dropped
        if result.status == DONE and src.lost:
            result.status, result.error = LOST, src.lost
        elif result.status == DONE and interrupted and not src.exhausted and not self._reached_limit(stream):
            result.status, result.error = INTERRUPTED, "stopped before its end"
        for name in (JSONL_NAME, VIDEO_NAME):
            path = os.path.join(self._outputs.output_dir, stream.entry.name, name)
            if os.path.isfile(path) and sinks:
                result.outputs[f"{stream.entry.name}/{name}"] = os.path.getsize(path)

    def _reached_limit(self, stream: _Stream) -> bool:
        limit = self._outputs.max_frames
        return limit is not None and stream.result.frames >= limit

    def _close_all(self, *, interrupted: bool) -> None:
        for stream in self._streams:
            self._close(stream, interrupted=interrupted)
