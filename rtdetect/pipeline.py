"""The run loop of one source: the order of its stages, their threads and queues (``rtdetect.streams`` runs many
sources through one engine; see docs/architecture.md).

    capture ─▶ preprocess ─▶ inference ─▶ decode+NMS+masks ─▶ [tracker] ─▶ render+sinks (calling thread)

Each stage runs in its own thread joined by bounded FIFO queues, so capture, preprocess, inference and
post-processing overlap (OpenCV, NumPy and the engines release the GIL). A stage may also keep several
items in flight inside its thread (the engine's ``max_in_flight``: OpenVINO runs two asynchronous requests,
so the next frame is already queued in the engine when the current one finishes); items still leave
every stage in arrival order. Files are throughput first:
every frame is processed, in order, and queues block. Live sources are latency first: the source keeps
only its newest frame, the queues into the stages before and at the model keep only their newest item (an
older waiting one is dropped and counted, and no stage thread ever waits to hand on a stale frame), and the
queues after the model hold one item; ``max_frames`` then counts the frames written, not the frames read.

Shutdown is always clean: at the end of input the end marker flows through every stage; on an error in
a stage (an engine that cannot run the model, a source that fails) the frames already past that stage
still reach the sinks, then the end marker, and the run raises the error; on a quit key or on Ctrl-C a
stop event ends every thread, no wait for an inference result outlasting it. Either way the caller's
sinks are closed (finalised, renamed into place) in ``finally`` with every frame that was fully processed.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple, Protocol, Sequence

import numpy as np

from .capture.base import Source
from .decode import select_decoder
from .inference.base import Engine
from .metrics import FpsMeter, StageTimes
from .postprocess import PostprocessConfig, Postprocessor
from .preprocess import Preprocessor
from .annotate import Renderer
from .types import Detections, Frame, Letterbox

END_OF_INPUT = object()


class DetectionStage(Protocol):
    """A stage after the model: ``stage(frame, detections) -> detections``; ``name`` labels its timing."""

    name: str

    def __call__(self, frame: Frame, detections: Detections) -> Detections: ...

_POLL_S = 0.05


@dataclass
class WorkItem:
    """One frame on its way through the stages; ``timings`` holds seconds per stage name."""

    frame: Frame
    timings: dict[str, float] = field(default_factory=dict)
    tensor: np.ndarray | None = None
    letterbox: Letterbox | None = None
    outputs: list[np.ndarray] | None = None
    detections: Detections | None = None


class Stage(NamedTuple):
    """One step between capture and the sinks.

    ``run(item)`` fills its part of ``item`` and returns None, or starts that work and returns a function
    ``finish(stop)`` that finishes it, returning False when ``stop`` was set before the work could be
    finished. Up to ``depth`` items may be started and not yet finished; they are finished and
    passed on in arrival order. ``timed``: the pipeline records the stage's time per item (from its start,
    or from the previous item's finish if that was later, to its finish); otherwise ``run`` records its own.
    ``newest_only``: on a live source, an item waiting for this stage is replaced by a newer one (the stages
    up to the model: their work on a frame that is already stale is wasted and delays every later frame).
    """

    name: str
    timed: bool
    run: Callable[[WorkItem], Callable[[threading.Event], bool] | None]
    depth: int = 1
    newest_only: bool = False


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


@dataclass
class RunSummary:
    frames: int = 0
    detections: int = 0
    seconds: float = 0.0
    frames_lost: int = 0
    frames_dropped: int = 0
    interrupted: bool = False
    source_lost: str | None = None  # why a live source ended on its own (its reconnect budget was spent)
    stages: StageTimes = field(default_factory=StageTimes)
    line_counts: list[dict] = field(default_factory=list)  # final count-line totals, when counting

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def put_unless_stopped(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Blocking put that gives up (returns False) once ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def get_unless_stopped(q: queue.Queue, stop: threading.Event):
    """Blocking get that returns ``END_OF_INPUT`` once ``stop`` is set."""
    while not stop.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return END_OF_INPUT


def result_unless_stopped(future: Future, stop: threading.Event):
    """``future.result()`` (its exception raised), or None once ``stop`` is set before it is done."""
    while not stop.is_set():
        try:
            return future.result(timeout=_POLL_S)
        except FutureTimeout:
            continue
    return None


def join_all(threads: Sequence[threading.Thread]) -> None:
    """Join every thread even through a repeated Ctrl-C: a stage thread may be inside native code (ONNX
    Runtime), and freeing its engine under it aborts the whole process. The last interrupt is re-raised."""
    interrupt = None
    for thread in threads:
        while thread.is_alive():
            try:
                thread.join()
            except KeyboardInterrupt as exc:
                interrupt = exc
    if interrupt is not None:
        raise interrupt


def pump(items: Iterator[WorkItem], outbox: queue.Queue, stop: threading.Event, errors: list) -> None:
    """A stage thread's body: forward ``items`` downstream, then the end marker, whatever happens. An error
    is handed to the calling thread (which re-raises it once the end marker reached it): the items already
    forwarded still reach the sinks, and the stages upstream wait until the run sets ``stop``."""
    try:
        for item in items:
            if not put_unless_stopped(outbox, item, stop):
                return
    except BaseException as exc:  # handed to the calling thread, which re-raises it
        errors.append(exc)
    finally:
        put_unless_stopped(outbox, END_OF_INPUT, stop)


def _renders(sinks: Sequence) -> bool:
    """Does any of ``sinks`` take the rendered image?"""
    return any(s.needs_render for s in sinks)


class Pipeline:
    """Runs an ``Engine`` over frames. ``process(frame)`` is the sequential form; ``run(source, sinks)``
    the threaded one. The decoder is chosen from the engine's metadata and real output shapes, found by a
    warm-up inference at construction (so the first timed frame is never a cold one)."""

    _detection_stages: tuple[DetectionStage, ...] = ()  # replaced, never mutated, by add_detection_stage

    def __init__(self, engine: Engine, config: PostprocessConfig = PostprocessConfig(), *, warmup_runs: int = 2) -> None:
        self.engine = engine
        self.preprocess = Preprocessor(engine.input_hw, dtype=engine.input_dtype)
        outputs = self.warmup(warmup_runs)
        self._decoder, self._roles, self.names = select_decoder([o.shape for o in outputs], engine.metadata)
        self.configure(config)

    def configure(self, config: PostprocessConfig) -> None:
        """Change thresholds or the class filter (validated against this model's classes)."""
        self.postprocess = Postprocessor(self._decoder, self._roles, self.names, config)

    def describe(self) -> dict:
        """The model as this pipeline runs it: output ``layout``, number of ``classes``, ``masks`` or not."""
        return {"layout": self._decoder.layout, "classes": len(self.names), "masks": self.postprocess.has_masks}

    def warmup(self, runs: int) -> list[np.ndarray]:
        """Run the engine ``runs`` (>= 1) times on a padding-grey input; returns the last outputs."""
        blank = np.full((*self.engine.input_hw, 3), 114, dtype=np.uint8)
        tensor, _ = self.preprocess(blank)
        outputs = self.engine.infer(tensor)
        for _ in range(runs - 1):
            outputs = self.engine.infer(tensor)
        return outputs

    # -- stages: each fills its part of a WorkItem -------------------------------------------------
    def _stage_preprocess(self, item: WorkItem) -> None:
        item.tensor, item.letterbox = self.preprocess(item.frame.image)

    def _stage_inference(self, item: WorkItem) -> Callable[[threading.Event], bool]:
        pending = self.engine.submit(item.tensor)

        def finish(stop: threading.Event) -> bool:
            item.outputs = result_unless_stopped(pending, stop)
            item.tensor = None
            return item.outputs is not None

        return finish

    def _stage_postprocess(self, item: WorkItem) -> None:
        item.detections, timings = self.postprocess(item.outputs, item.letterbox)
        item.timings.update(timings)
        item.outputs = None

    def model_stages(self) -> list[Stage]:
        """From the frame to its detections. A stage that is not timed here records its own finer timings
        (post-processing splits decode+NMS from masks). Inference keeps as many frames in flight as the
        engine allows."""
        return [Stage("preprocess", True, self._stage_preprocess, newest_only=True),
                Stage("inference", True, self._stage_inference, self.engine.max_in_flight, newest_only=True),
                Stage("postprocess", False, self._stage_postprocess)]

    def add_detection_stage(self, stage: DetectionStage) -> None:
        """Run ``stage`` on every frame's detections after the model's stages (e.g. the tracker)."""
        self._detection_stages = (*self._detection_stages, stage)

    def remove_detection_stage(self, stage: DetectionStage) -> None:
        """Stop running ``stage`` (added by :meth:`add_detection_stage`) on the next runs."""
        self._detection_stages = tuple(s for s in self._detection_stages if s is not stage)

    def stages(self) -> list[Stage]:
        """The stages between capture and the sinks, in order: the model's, then the detection stages."""
        def applied(stage: DetectionStage) -> Callable[[WorkItem], None]:
            def run(item: WorkItem) -> None:
                item.detections = stage(item.frame, item.detections)
            return run
        return self.model_stages() + [Stage(s.name, True, applied(s)) for s in self._detection_stages]

    def process(self, frame: Frame) -> WorkItem:
        """All stages for one frame in the calling thread, timed."""
        item = WorkItem(frame)
        for stage in self.stages():
            start = time.perf_counter()
            finish = stage.run(item)
            if finish is not None:
                finish(threading.Event())  # never set: the engine settles every Future
            if stage.timed:
                item.timings[stage.name] = time.perf_counter() - start
        return item

    # -- threaded run ---------------------------------------------------------------------------
    def run(self, source: Source, sinks: Sequence = (), *, max_frames: int | None = None,
            on_frame: Callable[[WorkItem], None] | None = None, show_fps: bool = False,
            stop: threading.Event | None = None) -> RunSummary:
        """Process ``source`` (opened by the caller) into ``sinks``; returns what was done.

        Sinks are written in the calling thread (a window must be) and are not closed here.
        KeyboardInterrupt stops the run cleanly and is reported as ``summary.interrupted``.
        """
        stop = stop or threading.Event()
        live = source.is_live
        stages = self.stages()
        queues = self._queues(stages, live)
        errors: list[BaseException] = []
        producers = [("capture", self._captured(source, stop, None if live else max_frames), queues[0])]
        for k, stage in enumerate(stages):
            items = self._stage_items(stage, queues[k], stop, live=live)
            producers.append((stage.name, items, queues[k + 1]))
        threads = [threading.Thread(target=pump, args=(items, outbox, stop, errors), name=f"rtdetect:{label}",
                                    daemon=True) for label, items, outbox in producers]
        summary = RunSummary()
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        try:
            self._consume(queues[-1], sinks, summary, stop, on_frame, show_fps, max_frames)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            stop.set()
            source.interrupt()
            join_all(threads)
            summary.seconds = time.perf_counter() - start
        if errors:
            raise errors[0]
        summary.frames_lost = source.frames_lost_within(max_frames)
        summary.frames_dropped = source.frames_dropped + sum(q.dropped for q in queues if isinstance(q, NewestOnly))
        summary.source_lost = source.lost
        return summary

    @staticmethod
    def _queues(stages: Sequence[Stage], live: bool) -> list[queue.Queue]:
        """The queue into each stage, then the one into the sinks. Files: two waiting items per queue keep
        every stage fed (inference is the slow one); more only holds more frames in memory (at 4K each is
        25 MB, and 4 per queue took detection alone to 0.95 GiB). Live: see the module docstring."""
        if not live:
            return [queue.Queue(maxsize=2) for _ in range(len(stages) + 1)]
        return [NewestOnly() if stage.newest_only else queue.Queue(maxsize=1) for stage in stages] + [queue.Queue(maxsize=1)]

    @staticmethod
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

    def _stage_items(self, stage: Stage, inbox: queue.Queue, stop: threading.Event, *,
                     live: bool) -> Iterator[WorkItem]:
        """The items a stage thread forwards: ``stage`` applied to each item of ``inbox`` (see ``_staged``)."""
        return self._staged(stage, inbox, stop)

    @staticmethod
    def _staged(stage: Stage, inbox: queue.Queue, stop: threading.Event) -> Iterator[WorkItem]:
        """Items of ``inbox`` after ``stage`` did its part, in order. A started item is finished once
        ``stage.depth`` items are in flight, or as soon as no next item is waiting (so a live frame is
        never held back for the one after it)."""
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

    def _consume(self, inbox: queue.Queue, sinks: Sequence, summary: RunSummary, stop: threading.Event,
                 on_frame, show_fps: bool, max_frames: int | None) -> None:
        renderer = Renderer(self.names) if _renders(sinks) else None
        meter = FpsMeter()
        while (item := get_unless_stopped(inbox, stop)) is not END_OF_INPUT:
            fps = meter.tick()
            start = time.perf_counter()
            rendered = renderer.render(item.frame.image, item.detections, fps if show_fps else None) if renderer else None
            written = time.perf_counter()
            for sink in sinks:
                sink.write(item.frame, item.detections, rendered)
            item.timings["render"], item.timings["write"] = written - start, time.perf_counter() - written
            summary.frames += 1
            summary.detections += len(item.detections)
            summary.stages.add(item.timings)
            if on_frame is not None:
                on_frame(item)
            if any(s.quit_requested for s in sinks) or summary.frames == max_frames:
                stop.set()


class GpuFramePipeline(Pipeline):
    """The same run loop around a fused GPU processor (``rtdetect.gpu.processor.GpuProcessor``):
    preprocess, inference, decode, NMS and masks happen on the device in one stage, and only the kept
    detections come back. ``processor`` provides ``process_frame(image) -> (Detections, seconds by
    stage)``, ``process_stream(images)`` (the same per frame, in order, uploading frame k + 1 while frame k
    computes), ``names``, ``configure(config)`` and ``close()``; the caller owns and closes it.

    ``run`` drives the streaming form on files (throughput first: the double-buffered upload overlaps the
    copy of the next frame with this frame's compute) and ``process_frame`` on live sources (latency first:
    the streaming form would hold each result until the next frame arrives).

    When a sink renders, ``run`` turns on the processor's ``paint_masks``: segmentation masks are painted on
    the device and the renderer draws boxes and labels over that frame. Not with detection stages (the
    tracker keeps only some detections, after the GPU stage): the renderer paints those masks itself."""

    def __init__(self, processor) -> None:
        self.processor = processor
        self.names = list(processor.names)

    @property
    def engine(self):
        """The engine the processor drives (``Pipeline.engine``: what ran, for reports such as ``rtdetect val``)."""
        return self.processor.engine

    def configure(self, config: PostprocessConfig) -> None:
        self.processor.configure(config)

    def describe(self) -> dict:
        return {"layout": self.processor.layout, "classes": len(self.names), "masks": self.processor.has_masks}

    def run(self, source: Source, sinks: Sequence = (), **options) -> RunSummary:
        self.processor.paint_masks = _renders(sinks) and not self._detection_stages
        try:
            return super().run(source, sinks, **options)
        finally:
            self.processor.paint_masks = False

    def _stage_fused(self, item: WorkItem) -> None:
        item.detections, timings = self.processor.process_frame(item.frame.image)
        item.timings.update(timings)

    def model_stages(self) -> list[Stage]:
        return [Stage("gpu", False, self._stage_fused, newest_only=True)]

    def _stage_items(self, stage: Stage, inbox: queue.Queue, stop: threading.Event, *,
                     live: bool) -> Iterator[WorkItem]:
        if live or stage.run != self._stage_fused:  # detection stages after it (the tracker) go item by item
            return super()._stage_items(stage, inbox, stop, live=live)
        return self._streamed(inbox, stop)

    def _streamed(self, inbox: queue.Queue, stop: threading.Event) -> Iterator[WorkItem]:
        """The items of ``inbox`` through ``processor.process_stream``, each with its detections and timings."""
        pending: deque[WorkItem] = deque()

        def images() -> Iterator[np.ndarray]:
            while (item := get_unless_stopped(inbox, stop)) is not END_OF_INPUT:
                pending.append(item)
                yield item.frame.image

        for detections, timings in self.processor.process_stream(images()):
            item = pending.popleft()
            item.detections = detections
            item.timings.update(timings)
            yield item
