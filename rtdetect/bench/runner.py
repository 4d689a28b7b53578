"""``rtdetect bench``: every configuration (backend x precision) measured on one source and model.

For each configuration the engine is opened once, then ``repeats`` times: the model alone on a prepared
input, and the threaded pipeline end to end. Figures are medians over the repeats; per-stage statistics
pool the samples of every repeat. Warm-up frames and calls are never counted. Every configuration's
detections are also compared with ONNX Runtime fp32's on the calibration frames, exactly as
``--backend auto``'s accuracy guard compares them (:mod:`rtdetect.inference.selection`), and the report
marks the configuration auto would take among those measured. ``--backend auto`` expands to every
candidate auto considers on this machine.
"""
from __future__ import annotations

import datetime as _dt
import statistics
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..agreement import agreement
from ..api import DEFAULT_MODEL, make_pipeline, resolve_model_path
from ..capture import DEMO, StreamOptions, is_stream_url, redact_url
from ..errors import SourceError
from ..inference.selection import GUARD_IOU
from ..metrics import LatencySummary, StageTimes
from ..pipeline import GpuFramePipeline, Pipeline
from ..postprocess import PostprocessConfig
from .engines import auto_configs, open_engine
from .host import host_info, load_average
from .measure import EndToEnd, ModelOnly, first_frame, run_end_to_end, run_model_only
from .sinks import SINK_MODES

SCHEMA = "rtdetect-bench/1"


@dataclass(frozen=True)
class BenchSettings:
    """What one ``rtdetect bench`` run measures; see ``run_bench`` for the meaning of each field."""

    source: str
    model: str = DEFAULT_MODEL
    backends: tuple[str, ...] = ("onnxruntime",)
    precisions: tuple[str, ...] = ("fp32",)
    imgsz: tuple[int, int] = (640, 640)
    frames: int = 100
    warmup: int = 10
    repeats: int = 1
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 300
    sink: str = "video"
    threads: int | None = None
    calib_source: str | None = None
    calib_frames: int = 200
    stream_options: StreamOptions | None = None
    configs: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.frames < 1 or self.warmup < 0 or self.repeats < 1:
            raise ValueError(f"need frames >= 1, warmup >= 0, repeats >= 1; got {self.frames}, {self.warmup}, {self.repeats}")
        if self.sink not in SINK_MODES:
            raise ValueError(f"unknown sink {self.sink!r}: choose one of {', '.join(SINK_MODES)}")
        if not self.backends or not self.precisions:
            raise ValueError("need at least one backend and one precision")
        pairs = []
        for backend in self.backends:
            expanded = auto_configs() if backend == "auto" else [(backend, p) for p in self.precisions]
            pairs.extend(pair for pair in expanded if pair not in pairs)
        object.__setattr__(self, "configs", tuple(pairs))


def _ms(summary: LatencySummary) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(summary).items()}


def _pooled(runs: list[EndToEnd]) -> dict:
    pooled = StageTimes()
    for run in runs:
        for stage, seconds in run.stages.samples.items():
            pooled.samples[stage].extend(seconds)
    return {stage: _ms(s) for stage, s in pooled.summary().items()}


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _live(e2e: list[EndToEnd], model_fps: float | None) -> dict | None:
    """Live sources: stale frames dropped, and capture → detections latency of stamped frames against the
    target (p99 below two frame intervals at the model's own FPS)."""
    if not any(r.live for r in e2e):
        return None
    ages = LatencySummary.of([a for r in e2e for a in r.frame_ages])
    target = 2000.0 / model_fps if model_fps else None
    return {"frames_dropped_runs": [r.frames_dropped for r in e2e], "capture_to_detections_ms": _ms(ages),
            "target_p99_ms": target, "meets_target": None if not ages.count or target is None else ages.p99 < target}


def _summarise(e2e: list[EndToEnd], model: list[ModelOnly]) -> dict:
    """One configuration's figures: medians over repeats, pooled per-stage latency."""
    latencies = [t for m in model for t in m.latencies]
    frames = sum(r.frames for r in e2e)
    peak = max((r.peak_rss for r in e2e if r.peak_rss is not None), default=None)
    return {
        "live": _live(e2e, _median(m.fps for m in model)),
        "stages_ms": _pooled(e2e),
        "end_to_end": {"fps": _median(r.fps for r in e2e), "fps_runs": [r.fps for r in e2e],
                       "frames_runs": [r.frames for r in e2e], "seconds_runs": [r.seconds for r in e2e],
                       "detections_per_frame": sum(r.detections for r in e2e) / frames if frames else None,
                       "cpu_cores_used": _median(r.cores_used for r in e2e)},
        "model_only": {"fps": _median(m.fps for m in model), "fps_runs": [m.fps for m in model],
                       "frames_runs": [m.frames for m in model], "seconds_runs": [m.seconds for m in model],
                       "latency_ms": _ms(LatencySummary.of(latencies)),
                       "cpu_cores_used": _median(m.cores_used for m in model)},
        "e2e_over_model": _median(r.fps / m.fps if m.fps else None for r, m in zip(e2e, model)),
        "peak_rss_mib": None if peak is None else peak / 2**20,
        "rss_method": e2e[0].rss_method if e2e else "",
        "gpu": "not measured",
    }


def _measure(pipeline: Pipeline, engine, image, settings: BenchSettings, say: Callable[[str], None],
             label: str) -> dict:
    e2e, model = [], []
    for repeat in range(settings.repeats):
        say(f"{label}: measuring, repeat {repeat + 1} of {settings.repeats} ({settings.frames} frames)")
        model.append(run_model_only(engine, image, frames=settings.frames, warmup=settings.warmup))
        run = run_end_to_end(pipeline, source=settings.source, frames=settings.frames,
                             warmup=settings.warmup, sink=settings.sink, stream_options=settings.stream_options)
        if run.frames == 0:
            raise SourceError(f"{redact_url(settings.source)} has no frame left after the {settings.warmup} warm-up "
                              f"frames: use a longer source or a smaller --warmup")
        # Model-only uses as many calls as the pipeline really counted (a short clip may end early).
        if run.frames and run.frames != model[-1].frames:
            model[-1] = run_model_only(engine, image, frames=run.frames, warmup=settings.warmup)
        e2e.append(run)
    return _summarise(e2e, model)


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


def _guard_record(engine, reference: list, images: list, precision: str) -> dict:
    """Agreement of ``engine``'s detections with the reference's on the guard's frames, and the verdict."""
    from ..inference.selection import Candidate, guard_accepts
    from ..trial_inputs import detections_of

    agree = agreement(reference, detections_of(engine, images), GUARD_IOU)
    return {"agreement": asdict(agree), "agreement_f1": agree.f1,
            "guard_accepts": guard_accepts(Candidate(engine.name, precision), agree)}


def measure_config(settings: BenchSettings, model_path: str, backend: str, precision: str, image,
                   guard: tuple[list, list] | None = None, say: Callable[[str], None] = _quiet) -> dict:
    """The result record of one configuration: figures, or ``status: unavailable`` with the reason.
    ``guard``: (reference detections, images) for the agreement with ONNX Runtime fp32; ``say`` receives a
    line of progress before each slow step."""
    label = f"{backend} {precision}"
    record = {"backend": backend, "precision": precision, "load_avg_before": load_average()}
    say(f"{label}: opening the engine")
    engine, reason = open_engine(model_path, backend=backend, precision=precision, imgsz=settings.imgsz,
                                 threads=settings.threads, calib_source=settings.calib_source or settings.source,
                                 calib_frames=settings.calib_frames)
    if engine is None:
        say(f"{label}: unavailable here ({reason})")
        return {**record, "status": "unavailable", "reason": reason}
    with ExitStack() as stack:
        stack.callback(engine.close)
        config = PostprocessConfig(conf=settings.conf, iou=settings.iou, max_det=settings.max_det)
        pipeline = make_pipeline(engine, config, stack)  # what `rtdetect --backend X` runs
        record.update(status="ok", reason=None, engine=engine.name, input_hw=list(engine.input_hw),
                      **pipeline.describe())
        record.update(_measure(pipeline, engine, image, settings, say, label))
        if isinstance(pipeline, GpuFramePipeline):
            record["gpu"] = "GPU stage times from CUDA events (upload, gpu_graph or per stage, download)"
        if guard is not None:
            record.update(_guard_record(engine, *guard, precision))
    record["load_avg_after"] = load_average()
    return record


def _guard_source(settings: BenchSettings) -> str:
    """Where the guard's frames come from: the calibration source, else the benchmark source when it is
    media on disk, else (a camera or a stream, which cannot be read twice alike) the bundled demo clip."""
    if settings.calib_source:
        return settings.calib_source
    live = settings.source == "webcam" or settings.source.isdigit() or is_stream_url(settings.source)
    return DEMO if live else settings.source


def _reference_detections(settings: BenchSettings, model_path: str) -> tuple[list, list]:
    """ONNX Runtime fp32's detections on the guard's frames (spread over the calibration source), and the frames."""
    from ..inference import create_engine
    from ..inference.selection import TRIAL_FRAMES
    from ..trial_inputs import MediaFrames, detections_of

    images = list(MediaFrames(_guard_source(settings)).frames(TRIAL_FRAMES))
    engine = create_engine(model_path, backend="onnxruntime", precision="fp32", imgsz=settings.imgsz)
    try:
        return detections_of(engine, images), images
    finally:
        engine.close()


def _mark_auto_choice(configs: list[dict]) -> None:
    """``auto_choice``: True on the fastest (model-only) measured configuration the guard accepts."""
    accepted = [c for c in configs if c["status"] == "ok" and c.get("guard_accepts") and c["model_only"]["fps"]]
    best = max(accepted, key=lambda c: c["model_only"]["fps"], default=None)
    for config in configs:
        config["auto_choice"] = config is best


def run_bench(*, progress: Callable[[str], None] = _quiet, **options) -> dict:
    """Measure every configuration; returns the report (the JSON document, see ``report.py``).

    Keyword options are the fields of ``BenchSettings``: source (any ``--source``), model (zoo name,
    .onnx or .pt), backends and precisions (their product is the list of configurations), imgsz (H, W),
    frames (counted per repeat), warmup (frames and model calls not counted), repeats, conf, iou,
    max_det, sink (``video`` | ``render`` | ``none``, see ``sinks.SINK_MODES``), threads (ONNX Runtime
    intra-op threads; None = the engine's default), calib_source / calib_frames (INT8 calibration frames,
    spread over the source; default: the benchmark source, 200 frames), stream_options (timeout, reconnect
    budget, RTSP transport for stream URLs). ``progress`` receives one line before each slow step (model
    conversion, each engine, each measurement). Live sources add ``live``: stale frames dropped and, for
    frames stamped with their send time, capture → detections latency against its target.
    """
    settings = BenchSettings(**options)
    image = first_frame(settings.source, settings.stream_options)
    progress(f"preparing the model {settings.model} (converted on first use)")
    model_path = resolve_model_path(settings.model, settings.imgsz)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    progress("detections of onnxruntime fp32 on the guard's frames (the agreement reference)")
    guard = _reference_detections(settings, model_path)
    configs = [measure_config(settings, model_path, b, p, image, guard, progress) for b, p in settings.configs]
    _mark_auto_choice(configs)
    described = {k: v for k, v in asdict(settings).items() if k != "configs"}
    described.update(source=redact_url(settings.source), model_path=model_path,
                     calib_source=settings.calib_source and redact_url(settings.calib_source),
                     sink_description=SINK_MODES[settings.sink], imgsz=list(settings.imgsz))
    return {"schema": SCHEMA, "created": started, "host": host_info(), "settings": described,
            "configs": configs}
