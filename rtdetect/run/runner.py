"""The one run loop: a :class:`Runner` carries the frames of a source through a ``Model``'s stages, the detection
stages (the tracker) and the sinks. Every path runs through it: the command, ``Detector.stream``, stream lists
(``rtdetect.run.batcher``, several sources in front of the same tail), ``rtdetect batch``'s workers and the
bench's end-to-end run.

    capture ─▶ model stages (CPU: letterbox ─▶ inference ─▶ decode+NMS+masks; GPU: one fused stage)
        ─▶ consuming thread: detection stages ─▶ render ─▶ sinks

Each stage runs in its own thread joined by bounded FIFO queues, so capture, preprocess, inference and
post-processing overlap (OpenCV, NumPy and the engines release the GIL). A stage may keep several items in
flight inside its thread (the engine's ``max_in_flight``); items still leave every stage in arrival order.
Files are throughput first: every frame is processed, in order, and queues block (a streamed stage takes the
whole sequence: the GPU uploads frame k + 1 while frame k computes). Live sources are latency first: the
source keeps only its newest frame, the queues into the stages before and at the model keep only their newest
item (an older waiting one is dropped and counted), the queues after the model hold one item, and
``max_frames`` counts the frames written, not the frames read.

The stop contract: at the end of input the end marker flows through every stage; on an error in a stage (an
engine that cannot run the model, a source that fails) the frames already past that stage still reach the
sinks, then the run raises the error; on a quit key, a ``stop`` event or Ctrl-C every thread ends, no wait for
an inference result outlasting it. The caller closes its sinks (finalised, renamed into place) with every
frame that was fully processed.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Callable, Iterator, Sequence

from ..capture.base import Source
from ..sinks.base import Sink
from ..tracking.stage import TrackingStage
from .model import Model
from .result import RunResult
from .tail import Tail, apply_stages, tracking_stage
from .threads import join_all, start_pump
from .work import END_OF_INPUT, DetectionStage, NewestOnly, Stage, WorkItem, dropped_in, get_unless_stopped


class Runner:
    """Runs ``model`` over sources: ``frames(source)`` yields each processed frame to the caller's thread,
    ``run(source, sinks)`` writes them to sinks. ``track`` / ``count_lines``: a tracker per run (see
    :func:`rtdetect.run.tail.tracking_stage`); ``stages``: further detection stages after it."""

    def __init__(self, model: Model, *, track=False, count_lines: Sequence[tuple[float, float, float, float]] = (),
                 stages: Sequence[DetectionStage] = ()) -> None:
        self.model = model
        self.track, self.count_lines, self.extra_stages = track, tuple(count_lines), tuple(stages)

    def detection_stages(self, fps: float | None) -> list[DetectionStage]:
        """The stages after the model for a run of a source at ``fps``: a fresh tracker, then the others."""
        tracker = tracking_stage(self.model.names, fps, track=self.track, count_lines=self.count_lines)
        return ([tracker] if tracker is not None else []) + list(self.extra_stages)

    # -- frames to the caller ---------------------------------------------------------------------------
    def frames(self, source: Source, *, max_frames: int | None = None, stop: threading.Event | None = None,
               result: RunResult | None = None, stages: Sequence[DetectionStage] | None = None,
               counted: bool = True) -> Iterator[WorkItem]:
        """Each frame of ``source`` (opened by the caller) through the model and the detection stages, in the
        calling thread. Leaving the loop early stops the run. ``result`` (if given) gets the run's seconds,
        frames lost and dropped, a lost source's reason and, when ``counted``, each frame yielded (its
        detections and stage timings); an error of a stage is raised after the frames before it were
        yielded."""
        stop = stop or threading.Event()
        result = result if result is not None else RunResult(source.name)
        stages = self.detection_stages(source.fps) if stages is None else stages
        live = source.is_live
        model_stages = self.model.stages()
        queues = _queues(model_stages, live)
        errors: list[BaseException] = []
        start = time.perf_counter()
        threads = [start_pump(_captured(source, stop, None if live else max_frames), queues[0], stop, errors,
                              name="capture")]
        for k, stage in enumerate(model_stages):
            threads.append(start_pump(_stage_items(stage, queues[k], stop, live), queues[k + 1], stop, errors,
                                      name=stage.name))
        given = 0
        try:
            while given != max_frames and (item := get_unless_stopped(queues[-1], stop)) is not END_OF_INPUT:
                given += 1
                apply_stages(item, stages)
                if counted:
                    result.frames += 1
                    result.detections += len(item.detections)
                    result.stages.add(item.timings)
                yield item
        finally:
            stop.set()
            source.interrupt()
            join_all(threads)
            result.seconds = time.perf_counter() - start
            result.frames_lost = source.frames_lost_within(max_frames)
            result.frames_dropped = source.frames_dropped + dropped_in(queues)
            if source.lost:
                result.lose(source.lost)
        if errors:
            raise errors[0]

    # -- frames to sinks -------------------------------------------------------------------------------
    def run(self, source: Source, sinks: Sequence[Sink] = (), *, max_frames: int | None = None,
            on_frame: Callable[[WorkItem], None] | None = None, show_fps: bool = False,
            stop: threading.Event | None = None) -> RunResult:
        """Process ``source`` into ``sinks`` (written in the calling thread, as a window must be; not closed
        here); returns what was done. KeyboardInterrupt stops the run cleanly: ``result.interrupted``."""
        stop = stop or threading.Event()
        result = RunResult(source.name)
        stages = self.detection_stages(source.fps)
        tail = Tail(self.model.names, sinks, result, show_fps=show_fps, on_frame=on_frame)
        # Masks painted on the device only when the frame is rendered with exactly the model's detections.
        self.model.paint_on_device(tail.renders and not stages)
        frames = self.frames(source, max_frames=max_frames, stop=stop, result=result, stages=stages,
                             counted=False)  # the tail counts each frame once it is written
        try:
            for item in frames:
                tail.write(item)
                if tail.quit_requested:
                    stop.set()
        except KeyboardInterrupt:
            result.interrupt()
        finally:
            frames.close()
            self.model.paint_on_device(False)
        result.line_counts = [totals for stage in stages if isinstance(stage, TrackingStage)
                              for totals in stage.totals()]
        return result


def _queues(stages: Sequence[Stage], live: bool) -> list[queue.Queue]:
    """The queue into each stage, then the one out of the model. Files: two waiting items per queue keep every
    stage fed (inference is the slow one); more only holds more frames in memory (at 4K each is 25 MB).
    Live: see the module docstring."""
    if not live:
        return [queue.Queue(maxsize=2) for _ in range(len(stages) + 1)]
    into = [NewestOnly() if stage.newest_only else queue.Queue(maxsize=1) for stage in stages]
    return into + [queue.Queue(maxsize=1)]


def _captured(source: Source, stop: threading.Event, max_frames: int | None) -> Iterator[WorkItem]:
    """Frames of ``source`` as work items, timing each read."""
    frames = iter(source)
    count = 0
    while not stop.is_set() and (max_frames is None or count < max_frames):
        start = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            return
        count += 1
        yield WorkItem(frame, {"capture": time.perf_counter() - start})


def _inbox(inbox: queue.Queue, stop: threading.Event) -> Iterator[WorkItem]:
    """The items of ``inbox`` up to the end marker (or the stop)."""
    while (item := get_unless_stopped(inbox, stop)) is not END_OF_INPUT:
        yield item


def _stage_items(stage: Stage, inbox: queue.Queue, stop: threading.Event, live: bool) -> Iterator[WorkItem]:
    """Items of ``inbox`` after ``stage`` did its part, in order: a file's whole sequence through a streamed
    stage, else item by item. A started item is finished once ``stage.depth`` items are in flight, or as soon
    as no next item is waiting (so a live frame is never held back for the one after it)."""
    if stage.streamed is not None and not live:
        yield from stage.streamed(_inbox(inbox, stop))
        return
    started: deque = deque()
    last_finish = 0.0
    while True:
        item = get_unless_stopped(inbox, stop)
        ending = item is END_OF_INPUT
        if not ending:
            started.append((item, time.perf_counter(), stage.run(item)))
        while started and (ending or len(started) >= stage.depth or inbox.empty()):
            done, start, finish = started.popleft()
            if finish is not None and not finish(stop):
                return
            now = time.perf_counter()
            if stage.timed:
                done.timings[stage.name] = now - max(start, last_finish)
            last_finish = now
            yield done
        if ending:
            return
