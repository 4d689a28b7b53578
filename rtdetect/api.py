"""The public Python API: :class:`Detector` (one image, or a whole source through the threaded pipeline)
and :func:`render`. The command line is built on the same functions (``rtdetect.app``); every path opens its
model with :func:`load_model` and runs it with ``rtdetect.run.Runner``.

    import cv2, rtdetect

    with rtdetect.Detector("yolov5s-seg", conf=0.4) as detector:
        detections = detector(cv2.imread("bus.jpg"))           # one BGR image -> Detections
        for frame, detections in detector.stream("clip.mp4"):  # every frame of a source, in order
            print(frame.index, rtdetect.to_record(detections, detector.names))
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
import os
import sys
from contextlib import ExitStack, closing
from dataclasses import replace
from typing import Iterable, Iterator, Sequence

import numpy as np

from . import options
from .capture import StreamOptions, open_source
from .capture.arrays import CHANNELS, PictureSource, as_bgr, is_picture
from .errors import ModelError, UsageError
from .inference import create_engine
from .trial_inputs import MediaFrames
from .input_shape import Request, fixed_shape_note, network_input_hw
from .postprocess import PostprocessConfig
from .run import Model, Runner, RunResult, open_model
from .types import Detections, Frame

DEFAULT_MODEL = "yolov5s-seg"
OPEN_SHAPES = 3  # engines a Detector keeps open, one per network input shape
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
    """The thresholds as a config, every value checked (UsageError naming the argument; the command line
    checks its options before, under their own names)."""
    return PostprocessConfig(conf=options.fraction("conf", conf), iou=options.fraction("iou", iou),
                             max_det=options.at_least("max_det", max_det, 1))


def open_engine(model: str, imgsz: Request, frame_hw: tuple[int, int] | None, *, backend: str = "auto",
                precision: str = "auto", batch: int = 1, threads: int | None = None):
    """The engine for frames of ``frame_hw`` (None: unknown or varying), opened: zoo and .pt models
    exported at the input shape ``imgsz`` asks for (``input_shape``; with a dynamic batch when ``batch`` > 1);
    an .onnx file as is (a fixed-shape one keeps its shape and says so on stderr if ``imgsz`` asked for
    another). ``batch``: the largest batch of frames it will get; ``threads``: the CPU engines' threads."""
    input_hw = network_input_hw(imgsz, frame_hw)
    engine = create_engine(resolve_model_path(model, input_hw, dynamic=batch > 1), backend=backend,
                           precision=precision, imgsz=input_hw, batch=batch, threads=threads,
                           calibration=MediaFrames())
    note = fixed_shape_note(model, imgsz, engine.input_hw)
    if note:
        print(note, file=sys.stderr)
    return engine


def load_model(model: str, imgsz: Request, frame_hw: tuple[int, int] | None, stack: ExitStack, *,
               config: PostprocessConfig, classes: Sequence[str | int] | None = None, backend: str = "auto",
               precision: str = "auto", batch: int = 1, threads: int | None = None) -> Model:
    """The one way every path opens a model: its engine (:func:`open_engine`) inside the model that runs it
    (``rtdetect.run.open_model``: the fused GPU one on TensorRT, unless ``batch`` > 1), with the thresholds
    of ``config`` and the class filter ``classes`` (ids or names). ``stack`` closes them."""
    engine = open_engine(model, imgsz, frame_hw, backend=backend, precision=precision, batch=batch, threads=threads)
    stack.callback(engine.close)
    opened = open_model(engine, config, stack, batched=batch > 1)
    if classes:
        opened.configure(replace(config, classes=class_ids_from(classes, opened.names)))
    return opened


class Detector:
    """A model ready to detect: ``detector(image) -> Detections``, ``detector([images]) -> [Detections]``,
    ``detector.stream(source)``.

    model: zoo name (``rtdetect models``), .onnx file or official .pt checkpoint. backend / precision:
    see :func:`rtdetect.inference.create_engine` (``auto``: measured on this machine). conf: score
    threshold; iou: NMS IoU threshold; imgsz: None or N (long side, default 640; the short side follows
    the frames' aspect ratio) or (H, W); classes: ids or names to keep (None: all); max_det: boxes per frame;
    batch: the largest batch of frames one engine call gets (above 1: several streams share the engine,
    ``rtdetect.streams``; zoo and .pt models are then exported with a dynamic batch); channels: the order of
    the arrays you pass, ``"bgr"`` (OpenCV's, the default) or ``"rgb"`` (PIL images are always read as RGB).
    Values are checked here (``rtdetect.errors.UsageError`` naming the argument); the engine is opened on
    the first frame (or the first ``names``), at the input shape its size asks for; up to ``OPEN_SHAPES``
    shapes stay open (the least recently used engine is closed beyond that). Close it (``with`` or
    :meth:`close`) to free the engines; a closed detector refuses further calls. Not thread-safe: one caller
    at a time.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, backend: str = "auto", precision: str = "auto",
                 conf: float = 0.25, iou: float = 0.45, imgsz: Request = None,
                 classes: Sequence[str | int] | None = None, max_det: int = 300, batch: int = 1,
                 channels: str = "bgr") -> None:
        if channels not in CHANNELS:
            raise UsageError(f"channels must be one of {', '.join(CHANNELS)}, got {channels!r}")
        if imgsz is not None:
            network_input_hw(imgsz, None)  # checks the size now, not at the first frame
        self.model, self.backend, self.precision, self.imgsz = str(model), backend, precision, imgsz
        self.batch = options.at_least("batch", batch, 1)
        self.channels = channels
        self._closed = False
        self.config = checked_config(conf, iou, max_det)
        self.classes = tuple(classes) if classes else None
        # The open models by network input shape, most recently used last (at most OPEN_SHAPES): portrait and
        # landscape pictures in turn reuse their engines instead of reopening one per call.
        self._open: OrderedDict[tuple[int, int], tuple[ExitStack, Model]] = OrderedDict()

    @property
    def names(self) -> list[str]:
        """The model's class names (opens the engine when no frame has yet)."""
        return self._any_model().names

    @property
    def is_open(self) -> bool:
        """Whether an engine is open (between the first frame and :meth:`close`)."""
        return bool(self._open)

    def _any_model(self) -> Model:
        """The most recently used open model, or the one for unknown frame sizes."""
        return next(reversed(self._open.values()))[1] if self._open else self.model_for(None)

    def model_for(self, frame_hw: tuple[int, int] | None) -> Model:
        """The model for frames of ``frame_hw`` (None: unknown or varying sizes), opening the engine when
        none is open or this size needs another network input."""
        if self._closed:
            raise RuntimeError("this Detector is closed: make a new one")
        input_hw = network_input_hw(self.imgsz, frame_hw)
        if input_hw in self._open:
            self._open.move_to_end(input_hw)
            return self._open[input_hw][1]
        while len(self._open) >= OPEN_SHAPES:
            self._open.popitem(last=False)[1][0].close()  # the least recently used engine
        with ExitStack() as stack:
            model = load_model(self.model, self.imgsz, frame_hw, stack, config=self.config, classes=self.classes,
                               backend=self.backend, precision=self.precision, batch=self.batch)
            self._open[input_hw] = (stack.pop_all(), model)
        return model

    def configure(self, *, conf: float | None = None, classes: Sequence[str | int] | None | object = _KEEP) -> None:
        """Change the score threshold and/or the class filter (None: all; not given: unchanged) from the next
        frame on, also while a stream runs (the live view's controls do this). Values are checked
        (UsageError, ModelError) before anything changes."""
        config = self.config if conf is None else replace(self.config, conf=options.fraction("conf", conf))
        wanted = self.classes if classes is _KEEP else (tuple(classes) if classes else None)
        if self._open:
            ids = class_ids_from(wanted, self._any_model().names)
            for _, model in self._open.values():
                model.configure(replace(config, classes=ids))
        self.config, self.classes = config, wanted

    def __call__(self, image):
        """Detections of one picture, in its pixels: an (H, W, 3) uint8 array (BGR, or RGB with
        ``channels="rgb"``), a PIL image, or the path (or URL) of an image. A list, tuple or generator of
        them gives a list of Detections, in order; pictures of one input shape go through the engine together
        (up to ``batch`` per call)."""
        if is_picture(image) or isinstance(image, (str, os.PathLike)) or not isinstance(image, Iterable):
            return self._detect([self._frame(image, "image")])[0]
        return self._detect([self._frame(picture, f"image[{k}]") for k, picture in enumerate(image)])

    def _frame(self, picture, argument: str) -> Frame:
        if not isinstance(picture, (str, os.PathLike)):
            return Frame(as_bgr(picture, channels=self.channels, argument=argument), 0, None, argument)
        with open_source(os.fspath(picture)) as src:
            frames = list(itertools.islice(src, 2))
        if len(frames) != 1:
            raise UsageError(f"{argument}: {picture} holds more than one picture: use Detector.stream() for it")
        return frames[0]

    def _detect(self, frames: list[Frame]) -> list[Detections]:
        """Each frame's detections, the frames of one network input shape processed together."""
        shapes = [network_input_hw(self.imgsz, frame.image.shape[:2]) for frame in frames]
        found: list[Detections | None] = [None] * len(frames)
        for shape in dict.fromkeys(shapes):
            picked = [k for k, s in enumerate(shapes) if s == shape]
            model = self.model_for(frames[picked[0]].image.shape[:2])
            for k, item in zip(picked, model.process_many([frames[k] for k in picked])):
                found[k] = item.detections
        return found

    def stream(self, source, *, max_frames: int | None = None, track=False,
               count_lines: Sequence[tuple[float, float, float, float]] = (),
               stream_options: StreamOptions | None = None) -> "DetectionStream":
        """``(Frame, Detections)`` for each frame of ``source`` (what ``rtdetect --source`` accepts, or a
        list or generator of pictures as ``__call__`` takes them), through the threaded runner: files frame by
        frame in order, live sources newest first. ``track``: track ids (True: ByteTrack; or a name of
        ``rtdetect.tracking.TRACKERS``; or your own tracker's factory, see ``rtdetect.tracking.Tracker``);
        ``count_lines``: segments (x1, y1, x2, y2) in frame pixels whose crossings are counted (implies
        ``track``; the running totals are in ``detections.extra["line_counts"]``). The returned iterator's
        ``result`` is the run's :class:`rtdetect.run.RunResult` so far (frames, detections, seconds per stage,
        frames dropped). Leaving the loop early (or ``close()``) stops the run and closes the source."""
        if max_frames is not None:
            options.at_least("max_frames", max_frames, 1)
        result = RunResult()
        return DetectionStream(self._streamed(source, result, max_frames, track, count_lines, stream_options),
                               result)

    def _streamed(self, source, result: RunResult, max_frames, track, count_lines,
                  stream_options) -> Iterator[tuple[Frame, Detections]]:
        opened = (open_source(source, stream_options=stream_options) if isinstance(source, (str, os.PathLike))
                  else PictureSource(source, channels=self.channels))
        with opened as src:
            result.source = src.name
            runner = Runner(self.model_for(src.frame_hw), track=track, count_lines=count_lines)
            with closing(runner.frames(src, max_frames=max_frames, result=result)) as frames:  # early exit: stop now
                for item in frames:
                    yield item.frame, item.detections

    def close(self) -> None:
        """Free the engine; the detector takes no further call."""
        self._closed = True
        self._release()

    def _release(self) -> None:
        opened, self._open = self._open, OrderedDict()
        for stack, _ in opened.values():
            stack.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class DetectionStream:
    """What :meth:`Detector.stream` returns: an iterator of ``(Frame, Detections)``, with ``result`` (the
    run's :class:`rtdetect.run.RunResult`, filled as frames come) and ``close()`` (stop the run now)."""

    def __init__(self, frames: Iterator[tuple[Frame, Detections]], result: RunResult) -> None:
        self._frames, self.result = frames, result

    def __iter__(self) -> "DetectionStream":
        return self

    def __next__(self) -> tuple[Frame, Detections]:
        return next(self._frames)

    def close(self) -> None:
        self._frames.close()


def render(image: np.ndarray, detections: Detections, names: Sequence[str]) -> np.ndarray:
    """An annotated copy of ``image`` ((H, W, 3) uint8 BGR): masks, boxes, labels (and track trails)."""
    from .annotate import Renderer

    return Renderer(names).render(image, detections)
