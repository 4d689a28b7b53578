"""What the commands do, as plain functions with keyword arguments (the CLI only parses argv into them)."""
from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Sequence

from . import options
from .capture import ImageSource, StreamOptions, open_source
from .errors import ModelError
from .inference import create_engine
from .outputs import describe_written, open_sinks, plan_outputs
from .pipeline import GpuFramePipeline, Pipeline, RunSummary, WorkItem
from .postprocess import PostprocessConfig

DEFAULT_MODEL = "yolov5s-seg"


def resolve_model_path(model: str, imgsz: tuple[int, int]) -> str:
    """An ONNX path for ``model``: an .onnx file as is; a zoo name or a .pt checkpoint converted (cached)."""
    if model.lower().endswith(".onnx"):
        return model
    from .models.zoo import resolve_model

    return str(resolve_model(model, imgsz=imgsz))


def class_ids_from(classes: Sequence[str] | None, names: Sequence[str]) -> tuple[int, ...] | None:
    """``--classes`` values (ids or names) → class ids; raises ModelError for a name the model lacks."""
    if not classes:
        return None
    ids = []
    lookup = {n.lower(): i for i, n in enumerate(names)}
    for value in classes:
        if value.lstrip("-").isdigit():
            ids.append(int(value))
        elif value.lower() in lookup:
            ids.append(lookup[value.lower()])
        else:
            raise ModelError(f"--classes: the model has no class named {value!r}")
    return tuple(ids)


def make_pipeline(engine, config: PostprocessConfig, stack: ExitStack) -> Pipeline:
    """The CPU pipeline, or on TensorRT the zero-copy GPU one (whose processor ``stack`` closes)."""
    if engine.name != "tensorrt":
        return Pipeline(engine, config)
    from .trt.gpu_pipeline import GpuPipeline

    processor = GpuPipeline(engine, config)
    stack.callback(processor.close)
    return GpuFramePipeline(processor)


def _progress_callback(total: int | None, enabled: bool):
    """A tqdm bar on stderr (frames, FPS, ETA) for sources with a known length, or None."""
    if not enabled or total is None:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="frame", dynamic_ncols=True, file=sys.stderr)

    def on_frame(item: WorkItem) -> None:
        bar.update(1)

    return bar, on_frame


@dataclass
class DetectRun:
    """What ``detect`` did: the run's summary, the source's display name, whether the source was still
    images (one frame per image), and one phrase per output file written."""

    summary: RunSummary
    name: str
    images: bool
    written: list[str]


def _checked_config(conf: float, iou: float, max_det: int, max_frames: int | None) -> PostprocessConfig:
    """The thresholds as a config, every value checked (UsageError naming the option)."""
    if max_frames is not None:
        options.at_least("--max-frames", max_frames, 1)
    return PostprocessConfig(conf=options.fraction("--conf", conf), iou=options.fraction("--iou", iou),
                             max_det=options.at_least("--max-det", max_det, 1))


def _note_fixed_input(engine, imgsz: tuple[int, int] | None, model: str) -> None:
    """Say once when a fixed-shape ONNX file ignores the requested input size."""
    if imgsz is not None and tuple(engine.input_hw) != tuple(imgsz):
        h, w = engine.input_hw
        print(f"rtdetect: note: {model} has a fixed {h}x{w} input; --imgsz {imgsz[0]} {imgsz[1]} is ignored "
              f"(export a dynamic model to choose the size)", file=sys.stderr)


def _tracked(pipeline: Pipeline, names, fps: float | None, track: bool, count_lines):
    """Add the tracking stage when asked for (``count_lines`` implies tracking); returns it or None."""
    if not (track or count_lines):
        return None
    from .tracking import TrackingStage

    tracking = TrackingStage(names, frame_rate=fps, lines=count_lines)
    pipeline.add_detection_stage(tracking)
    return tracking


def detect(*, source: str, model: str = DEFAULT_MODEL, backend: str = "auto", conf: float = 0.25, iou: float = 0.45,
           imgsz: tuple[int, int] | None = None, classes: Sequence[str] | None = None, max_det: int = 300,
           show: bool = False, save: str | None = None, json_path: str | None = None,
           max_frames: int | None = None, progress: bool = True, track: bool = False,
           count_lines: Sequence[tuple[float, float, float, float]] = (),
           stream_options: StreamOptions | None = None) -> DetectRun:
    """Run detection on ``source``. ``imgsz`` None: the model's own input size, else 640x640.

    track: follow objects across frames (ByteTrack); count_lines: segments (x1, y1, x2, y2) in frame pixels
    whose crossings are counted (implies ``track``); stream_options: timeout, reconnect budget and RTSP
    transport for stream URLs (whose display name has credentials redacted). Every value, the source (file, camera, URL) and the
    outputs are checked before the model is loaded or converted; see ``outputs`` for what ``save`` and
    ``json_path`` accept.
    """
    config = _checked_config(conf, iou, max_det, max_frames)
    size = options.DEFAULT_IMGSZ if imgsz is None else options.imgsz(imgsz)
    with ExitStack() as stack:
        src = stack.enter_context(open_source(source, stream_options=stream_options))
        plan = plan_outputs(src, save=save, json_path=json_path, show=show)
        engine = create_engine(resolve_model_path(model, size), backend=backend, imgsz=size)
        stack.callback(engine.close)
        _note_fixed_input(engine, imgsz, model)
        pipeline = make_pipeline(engine, config, stack)
        if classes:
            pipeline.configure(replace(config, classes=class_ids_from(classes, pipeline.names)))
        tracking = _tracked(pipeline, pipeline.names, src.fps, track, count_lines)
        # Sinks are closed (finalised, renamed into place) on every exit path, errors and Ctrl-C included.
        # A live source's frames may be dropped: the video's rate is measured from the frames written.
        sinks = open_sinks(plan, None if src.is_live else src.fps, pipeline.names)
        for sink in sinks:
            stack.callback(sink.close)
        if not sinks:
            print("rtdetect: warning: no --save, --json or --show: detections are counted but nothing is written",
                  file=sys.stderr)
        total = src.frame_count if max_frames is None or src.frame_count is None else min(max_frames, src.frame_count)
        bar, on_frame = _progress_callback(None if src.is_live else total, progress)
        if bar is not None:
            stack.callback(bar.close)
        summary = pipeline.run(src, sinks, max_frames=max_frames, on_frame=on_frame, show_fps=show)
        if tracking is not None:
            summary.line_counts = tracking.totals()
    return DetectRun(summary, src.name, isinstance(src, ImageSource), describe_written(sinks))
