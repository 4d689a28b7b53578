"""The public Python API: :class:`Detector` (one image, or a whole source through the threaded pipeline)
and :func:`render`. The command line is built on the same functions (``rtdetect.app``).

    import cv2, rtdetect

    with rtdetect.Detector("yolov5s-seg", conf=0.4) as detector:
        detections = detector(cv2.imread("bus.jpg"))           # one BGR image -> Detections
        for frame, detections in detector.stream("clip.mp4"):  # every frame of a source, in order
            print(frame.index, rtdetect.to_record(detections, detector.names))
"""
from __future__ import annotations

import contextlib
import queue
import sys
import threading
from contextlib import ExitStack
from dataclasses import replace
from typing import Iterator, Sequence

import numpy as np

from . import options
from .capture import StreamOptions, open_source
from .errors import ModelError
from .inference import create_engine
from .trial_inputs import MediaFrames
from .input_shape import Request, fixed_shape_note, network_input_hw
from .pipeline import GpuFramePipeline, Pipeline
from .postprocess import PostprocessConfig
from .types import Detections, Frame

DEFAULT_MODEL = "yolov5s-seg"
_KEEP = object()  # Detector.configure: this setting stays as it is


def resolve_model_path(model: str, imgsz: tuple[int, int], *, dynamic: bool = False) -> str:
    """An ONNX path for ``model``: an .onnx file as is; a zoo name or a .pt checkpoint converted (cached;
    ``dynamic``: with a dynamic batch, for batches of several frames)."""
    if model.lower().endswith(".onnx"):
        return model
    from .models.zoo import resolve_model

    return str(resolve_model(model, imgsz=imgsz, dynamic=dynamic))


def class_ids_from(classes: Sequence[str | int] | None, names: Sequence[str]) -> tuple[int, ...] | None:
    """``--classes`` values (ids or names) → class ids; raises ModelError for a name the model lacks."""
    if not classes:
        return None
    ids = []
    lookup = {n.lower(): i for i, n in enumerate(names)}
    for value in map(str, classes):
        if value.lstrip("-").isdigit():
            ids.append(int(value))
        elif value.lower() in lookup:
            ids.append(lookup[value.lower()])
        else:
            raise ModelError(f"--classes: the model has no class named {value!r}")
    return tuple(ids)


def checked_config(conf: float, iou: float, max_det: int) -> PostprocessConfig:
    """The thresholds as a config, every value checked (UsageError naming the option)."""
    return PostprocessConfig(conf=options.fraction("--conf", conf), iou=options.fraction("--iou", iou),
                             max_det=options.at_least("--max-det", max_det, 1))


def make_pipeline(engine, config: PostprocessConfig, stack: ExitStack, *, batched: bool = False) -> Pipeline:
    """The CPU pipeline, or on TensorRT the zero-copy GPU one (whose processor ``stack`` closes).
    ``batched`` (frames of several streams in one engine call, ``rtdetect.streams``): the CPU stages
    around any engine, as the fused GPU pipeline takes one frame at a time."""
    if engine.name != "tensorrt" or batched:
        return Pipeline(engine, config)
    from .gpu.processor import GpuProcessor

    processor = GpuProcessor(engine, config)
    stack.callback(processor.close)
    return GpuFramePipeline(processor)


def open_engine(model: str, imgsz: Request, frame_hw: tuple[int, int] | None, *, backend: str = "auto",
                precision: str = "auto", batch: int = 1):
    """The engine for frames of ``frame_hw`` (None: unknown or varying), opened: zoo and .pt models
    exported at the input shape ``imgsz`` asks for (``input_shape``; with a dynamic batch when ``batch`` > 1);
    an .onnx file as is (a fixed-shape one keeps its shape and says so on stderr if ``imgsz`` asked for
    another). ``batch``: the largest batch of frames it will get."""
    input_hw = network_input_hw(imgsz, frame_hw)
    engine = create_engine(resolve_model_path(model, input_hw, dynamic=batch > 1), backend=backend,
                           precision=precision, imgsz=input_hw, batch=batch, calibration=MediaFrames())
    note = fixed_shape_note(model, imgsz, engine.input_hw)
    if note:
        print(note, file=sys.stderr)
    return engine


class Detector:
    """A model ready to detect: ``detector(image_bgr) -> Detections``, ``detector.stream(source)``.

    model: zoo name (``rtdetect models``), .onnx file or official .pt checkpoint. backend / precision:
    see :func:`rtdetect.inference.create_engine` (``auto``: measured on this machine). conf: score
    threshold; iou: NMS IoU threshold; imgsz: None or N (long side, default 640; the short side follows
    the frames' aspect ratio) or (H, W); classes: ids or names to keep (None: all); max_det: boxes per frame;
    batch: the largest batch of frames one engine call gets (above 1: several streams share the engine,
    ``rtdetect.streams``; zoo and .pt models are then exported with a dynamic batch).
    Values are checked here (``rtdetect.errors.UsageError``); the engine is opened on the first frame,
    at the input shape its size asks for, and reopened only when a frame size needs another shape.
    Close it (``with`` or :meth:`close`) to free the engine. Not thread-safe: one caller at a time.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, backend: str = "auto", precision: str = "auto",
                 conf: float = 0.25, iou: float = 0.45, imgsz: Request = None,
                 classes: Sequence[str | int] | None = None, max_det: int = 300, batch: int = 1) -> None:
        if imgsz is not None:
            network_input_hw(imgsz, None)  # checks the size now, not at the first frame
        self.model, self.backend, self.precision, self.imgsz = str(model), backend, precision, imgsz
        self.batch = options.at_least("batch", batch, 1)
        self.config = checked_config(conf, iou, max_det)
        self.classes = tuple(classes) if classes else None
        self._stack: ExitStack | None = None
        self._pipeline: Pipeline | None = None
        self._input_hw: tuple[int, int] | None = None

    @property
    def names(self) -> list[str]:
        """The model's class names (known once the engine is open: after the first frame)."""
        if self._pipeline is None:
            raise RuntimeError("Detector.names is known after the first frame (the engine opens then)")
        return self._pipeline.names

    @property
    def is_open(self) -> bool:
        """Whether an engine is open (between the first frame and :meth:`close`)."""
        return self._pipeline is not None

    def pipeline_for(self, frame_hw: tuple[int, int] | None) -> Pipeline:
        """The pipeline for frames of ``frame_hw`` (None: unknown or varying sizes), opening the engine
        when none is open or this size needs another network input."""
        input_hw = network_input_hw(self.imgsz, frame_hw)
        if self._pipeline is not None and input_hw == self._input_hw:
            return self._pipeline
        self.close()
        with ExitStack() as stack:
            engine = open_engine(self.model, self.imgsz, frame_hw, backend=self.backend, precision=self.precision,
                                 batch=self.batch)
            stack.callback(engine.close)
            pipeline = make_pipeline(engine, self.config, stack, batched=self.batch > 1)
            if self.classes:
                pipeline.configure(replace(self.config, classes=class_ids_from(self.classes, pipeline.names)))
            self._stack, self._pipeline, self._input_hw = stack.pop_all(), pipeline, input_hw
        return pipeline

    def configure(self, *, conf: float | None = None, classes: Sequence[str | int] | None | object = _KEEP) -> None:
        """Change the score threshold and/or the class filter (None: all; not given: unchanged) from the next
        frame on, also while a stream runs (the live view's controls do this). Values are checked
        (UsageError, ModelError) before anything changes."""
        config = self.config if conf is None else replace(self.config, conf=options.fraction("--conf", conf))
        wanted = self.classes if classes is _KEEP else (tuple(classes) if classes else None)
        if self._pipeline is not None:
            ids = class_ids_from(wanted, self._pipeline.names)
            self._pipeline.configure(replace(config, classes=ids))
        self.config, self.classes = config, wanted

    def __call__(self, image: np.ndarray) -> Detections:
        """Detections of one (H, W, 3) uint8 BGR image (as ``cv2.imread`` gives), in its pixels."""
        frame = Frame(np.ascontiguousarray(image), 0, None, "image")
        return self.pipeline_for(frame.image.shape[:2]).process(frame).detections

    def stream(self, source: str, *, max_frames: int | None = None, track=False,
               stream_options: StreamOptions | None = None) -> Iterator[tuple[Frame, Detections]]:
        """``(Frame, Detections)`` for each frame of ``source`` (what ``rtdetect --source`` accepts), through
        the threaded pipeline: files frame by frame in order, live sources newest first. ``track``: track ids
        (True: ByteTrack; or a name of ``rtdetect.tracking.TRACKERS``; or your own tracker's factory, see
        ``rtdetect.tracking.Tracker``). Leaving the loop early stops the run and closes the source."""
        if max_frames is not None:
            options.at_least("max_frames", max_frames, 1)
        with open_source(source, stream_options=stream_options) as src:
            pipeline = self.pipeline_for(src.frame_hw)
            with tracking_stage(pipeline, src.fps, track=track):
                yield from _handed_over(pipeline, src, max_frames)

    def close(self) -> None:
        """Free the engine (the next frame opens it again)."""
        stack, self._stack, self._pipeline, self._input_hw = self._stack, None, None, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@contextlib.contextmanager
def tracking_stage(pipeline: Pipeline, fps: float | None, *, track=False,
                   count_lines: Sequence[tuple[float, float, float, float]] = ()):
    """Within the block, ``pipeline`` tracks with the tracker ``track`` names (see
    ``tracking.tracker_factory``; ``count_lines`` implies the default one); yields the stage or None."""
    from .tracking import TrackingStage, tracker_factory

    factory = tracker_factory(track or bool(count_lines))
    if factory is None:
        yield None
        return
    stage = TrackingStage(pipeline.names, frame_rate=fps, lines=count_lines, tracker=factory)
    pipeline.add_detection_stage(stage)
    try:
        yield stage
    finally:
        pipeline.remove_detection_stage(stage)


_DONE = object()


class _Handoff:
    """A sink passing each frame to the consumer of :meth:`Detector.stream` (blocking while it is busy,
    so a file's frames all arrive, in order; a live source drops stale frames itself)."""

    needs_render = False
    quit_requested = False

    def __init__(self) -> None:
        self.items: queue.Queue = queue.Queue(maxsize=2)
        self.consumer_gone = threading.Event()

    def put(self, item) -> None:
        while not self.consumer_gone.is_set():
            with contextlib.suppress(queue.Full):
                self.items.put(item, timeout=0.05)
                return

    def write(self, frame: Frame, detections: Detections, rendered=None) -> None:
        self.put((frame, detections))

    def close(self, *, failed: bool = False) -> None:
        pass


def _handed_over(pipeline: Pipeline, src, max_frames: int | None) -> Iterator[tuple[Frame, Detections]]:
    """``pipeline.run`` in a helper thread, its frames yielded here; an error there is raised here."""
    stop = threading.Event()  # the run's (which sets it when it ends); the consumer's is handoff.consumer_gone
    handoff = _Handoff()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            pipeline.run(src, [handoff], max_frames=max_frames, stop=stop)
        except BaseException as exc:  # re-raised in the consumer's thread
            errors.append(exc)
        finally:
            handoff.put(_DONE)

    thread = threading.Thread(target=run, name="rtdetect:stream", daemon=True)
    thread.start()
    try:
        while (item := handoff.items.get()) is not _DONE:
            yield item
    finally:
        handoff.consumer_gone.set()
        stop.set()
        thread.join()
    if errors:
        raise errors[0]


def render(image: np.ndarray, detections: Detections, names: Sequence[str]) -> np.ndarray:
    """An annotated copy of ``image`` ((H, W, 3) uint8 BGR): masks, boxes, labels (and track trails)."""
    from .annotate import Renderer

    return Renderer(names).render(image, detections)
