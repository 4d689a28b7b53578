"""What the commands do, as plain functions with keyword arguments (the CLI only parses argv into them)."""
from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import replace
from typing import Sequence

from .capture import open_source
from .errors import ModelError
from .inference import create_engine
from .pipeline import GpuFramePipeline, Pipeline, RunSummary, WorkItem
from .postprocess import PostprocessConfig
from .sinks import DisplaySink, JsonlSink, VideoSink

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


def detect(*, source: str, model: str = DEFAULT_MODEL, backend: str = "auto", precision: str = "auto",
           conf: float = 0.25, iou: float = 0.45,
           imgsz: tuple[int, int] = (640, 640), classes: Sequence[str] | None = None, max_det: int = 300,
           show: bool = False, save: str | None = None, json_path: str | None = None,
           max_frames: int | None = None, progress: bool = True, track: bool = False,
           count_lines: Sequence[tuple[float, float, float, float]] = ()) -> tuple[RunSummary, str]:
    """Run detection on ``source``; returns the summary and the source's display name.

    track: follow objects across frames (ByteTrack); count_lines: segments (x1, y1, x2, y2) in frame pixels
    whose crossings are counted (implies ``track``)."""
    model_path = resolve_model_path(model, imgsz)
    engine = create_engine(model_path, backend=backend, precision=precision, imgsz=imgsz)
    with ExitStack() as stack:
        stack.callback(engine.close)
        config = PostprocessConfig(conf=conf, iou=iou, max_det=max_det)
        pipeline = make_pipeline(engine, config, stack)
        if classes:
            pipeline.configure(replace(config, classes=class_ids_from(classes, pipeline.names)))
        src = stack.enter_context(open_source(source))
        tracking = None
        if track or count_lines:
            from .tracking import TrackingStage

            tracking = TrackingStage(pipeline.names, frame_rate=src.fps, lines=count_lines)
            pipeline.add_detection_stage(tracking)
        sinks = []
        # Sinks are closed (finalised, renamed into place) on every exit path, errors and Ctrl-C included.
        if save:
            sinks.append(VideoSink(save, src.fps))
        if json_path:
            sinks.append(JsonlSink(json_path, pipeline.names))
        if show:
            sinks.append(DisplaySink())
        for sink in sinks:
            stack.callback(sink.close)
        total = src.frame_count if max_frames is None or src.frame_count is None else min(max_frames, src.frame_count)
        bar, on_frame = _progress_callback(None if src.is_live else total, progress)
        if bar is not None:
            stack.callback(bar.close)
        summary = pipeline.run(src, sinks, max_frames=max_frames, on_frame=on_frame, show_fps=show)
        if tracking is not None:
            summary.line_counts = tracking.totals()
    return summary, src.name
