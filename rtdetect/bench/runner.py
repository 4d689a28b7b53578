"""``rtdetect bench``: every configuration (backend x precision) measured on one source and model.

The network input follows detection's rule for the source (:func:`rtdetect.input_shape.network_input_hw`),
so the bench measures the shape ``rtdetect --source SRC`` runs. Configurations are measured round by round:
in each of ``repeats`` rounds every configuration's engine is opened and measured (the model alone on a
prepared input, then the threaded pipeline end to end) before the next round starts. Figures are medians
over the repeats, with their spread; per-stage statistics pool the samples of every repeat. Warm-up frames
and calls are never counted. Every configuration's detections are also compared with ONNX Runtime fp32's
on the calibration frames, exactly as ``--backend auto``'s accuracy guard compares them
(:mod:`rtdetect.inference.selection`), and the report marks the configuration auto would take among those
measured. ``--backend auto`` expands to every candidate auto considers on this machine. With a labelled
dataset each engine is also scored as ``rtdetect val`` scores (:func:`rtdetect.val.run.score_model`);
with ``compare`` another tool's command runs beside rtdetect's as whole processes (``compare.py``).
"""
from __future__ import annotations

import datetime as _dt
import statistics
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..agreement import agreement
from ..api import DEFAULT_MODEL, resolve_model_path
from ..capture import DEMO, StreamOptions, is_stream_url, redact_url
from ..capture.redact import redact_text
from ..errors import RtdetectError, SourceError, UsageError
from ..input_shape import Request, network_input_hw
from ..inference.selection import GUARD_IOU
from ..metrics import LatencySummary, StageTimes
from ..run import GpuModel, Model, open_model
from ..postprocess import PostprocessConfig
from .engines import auto_configs, open_engine
from .host import host_info, load_average
from .measure import EndToEnd, ModelOnly, probe_source, run_end_to_end, run_model_only
from .report import config_name
from .sinks import SINK_MODES

SCHEMA = "rtdetect-bench/1"


@dataclass(frozen=True)
class BenchSettings:
    """What one ``rtdetect bench`` run measures; see ``run_bench`` for the meaning of each field."""

    source: str
    model: str = DEFAULT_MODEL
    backends: tuple[str, ...] = ("onnxruntime",)
    precisions: tuple[str, ...] = ("fp32",)
    imgsz: Request = None
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
    data: str | None = None
    compare: str | None = None
    compare_frames: int | None = None
    configs: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.frames < 1 or self.warmup < 0 or self.repeats < 1:
            raise ValueError(f"need frames >= 1, warmup >= 0, repeats >= 1; got {self.frames}, {self.warmup}, {self.repeats}")
        if self.sink not in SINK_MODES:
            raise ValueError(f"unknown sink {self.sink!r}: choose one of {', '.join(SINK_MODES)}")
        if self.compare_frames is not None and self.compare_frames < 1:
            raise ValueError(f"need compare_frames >= 1, got {self.compare_frames}")
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
    }


def _measure_once(model: Model, engine, image, settings: BenchSettings) -> tuple[EndToEnd, ModelOnly]:
    """One repeat of one configuration: the engine alone, then the run end to end."""
    alone = run_model_only(engine, image, frames=settings.frames, warmup=settings.warmup)
    run = run_end_to_end(model, source=settings.source, frames=settings.frames,
                         warmup=settings.warmup, sink=settings.sink, stream_options=settings.stream_options)
    if run.frames == 0:
        raise SourceError(f"{redact_url(settings.source)} has no frame left after the {settings.warmup} warm-up "
                          f"frames: use a longer source or a smaller --warmup")
    # Model-only uses as many calls as the run really counted (a short clip may end early).
    if run.frames != alone.frames:
        alone = run_model_only(engine, image, frames=run.frames, warmup=settings.warmup)
    return run, alone


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


def _guard_record(engine, reference: list, images: list, precision: str) -> dict:
    """Agreement of ``engine``'s detections with the reference's on the guard's frames, and the verdict."""
    from ..inference.selection import Candidate, guard_accepts
    from ..trial_inputs import detections_of

    agree = agreement(reference, detections_of(engine, images), GUARD_IOU)
    return {"agreement": asdict(agree), "agreement_f1": agree.f1,
            "guard_accepts": guard_accepts(Candidate(engine.name, precision), agree)}


def _accuracy(pipeline, dataset, settings: BenchSettings) -> dict:
    """Box (and mask) mAP of ``pipeline`` on ``dataset``, scored as ``rtdetect val`` scores (its own
    function and default thresholds, at the input shape of this configuration's engine)."""
    from ..val.run import ValSettings, score_model

    val = ValSettings(model=settings.model)
    scores = score_model(pipeline, dataset, settings.data, val)
    return {"images": len(scores.images), "instances": scores.instances, "conf": val.conf, "iou": scores.iou,
            "max_det": val.max_det, "box": scores.box.summary,
            "mask": None if scores.mask is None else scores.mask.summary}


@dataclass
class _Config:
    """One configuration while it is measured: its result record and the runs of the repeats so far."""

    record: dict
    e2e: list[EndToEnd] = field(default_factory=list)
    model: list[ModelOnly] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.record['backend']} {self.record['precision']}"


def _measure_round(settings: BenchSettings, model_path: str, input_hw: tuple[int, int], image, config: _Config,
                   repeat: int, guard: tuple[list, list] | None, say: Callable[[str], None], dataset) -> None:
    """Repeat ``repeat`` of one configuration: open its engine, measure, and at the first repeat describe it,
    compare it with the guard's reference and score it on ``dataset``; close the engine. A configuration
    that cannot run here gets ``status: unavailable`` and its reason."""
    record, label = config.record, config.label
    say(f"{label}: opening the engine")
    engine, reason = open_engine(model_path, backend=record["backend"], precision=record["precision"], imgsz=input_hw,
                                 threads=settings.threads, calib_source=settings.calib_source or settings.source,
                                 calib_frames=settings.calib_frames)
    if engine is None:
        say(f"{label}: unavailable here ({reason})")
        record.update(status="unavailable", reason=reason)
        return
    with ExitStack() as stack:
        stack.callback(engine.close)
        thresholds = PostprocessConfig(conf=settings.conf, iou=settings.iou, max_det=settings.max_det)
        model = open_model(engine, thresholds, stack)  # what `rtdetect --backend X` runs
        if repeat == 0:
            gpu = isinstance(model, GpuModel)
            record.update(status="ok", reason=None, engine=engine.name, input_hw=list(engine.input_hw),
                          gpu="GPU stage times from CUDA events (upload, gpu_graph or per stage, download)"
                          if gpu else "not measured", **model.describe())
        say(f"{label}: measuring, repeat {repeat + 1} of {settings.repeats} ({settings.frames} frames)")
        run, alone = _measure_once(model, engine, image, settings)
        config.e2e.append(run)
        config.model.append(alone)
        if repeat == 0 and guard is not None:
            record.update(_guard_record(engine, *guard, record["precision"]))
        if repeat == 0 and dataset is not None:
            say(f"{label}: scoring {len(dataset.images)} images of {settings.data}")
            record["accuracy"] = _accuracy(model, dataset, settings)


def measure_configs(settings: BenchSettings, model_path: str, input_hw: tuple[int, int], image,
                    guard: tuple[list, list] | None = None, say: Callable[[str], None] = _quiet,
                    dataset=None) -> list[dict]:
    """The result record of every configuration: figures, or ``status: unavailable`` with the reason.

    Configurations are interleaved round by round (repeat r of every configuration before repeat r + 1 of
    any), so that a change of load spreads over all of them instead of showing as a difference between
    them; each round opens the engine afresh. ``guard``: (reference detections, images) for the agreement
    with ONNX Runtime fp32; ``dataset``: the labelled dataset of ``settings.data``
    (``val.formats.open_dataset``) to score each engine on; ``say`` receives a line of progress before each
    slow step."""
    configs = [_Config({"backend": b, "precision": p, "load_avg_before": load_average()}) for b, p in settings.configs]
    for repeat in range(settings.repeats):
        for config in configs:
            if config.record.get("status", "ok") == "ok":
                _measure_round(settings, model_path, input_hw, image, config, repeat, guard, say, dataset)
    for config in configs:
        if config.record["status"] == "ok":
            config.record.update(_summarise(config.e2e, config.model))
        config.record["load_avg_after"] = load_average()
        config.record["name"] = config_name(config.record)
    return [config.record for config in configs]


def _guard_source(settings: BenchSettings) -> str:
    """Where the guard's frames come from: the calibration source, else the benchmark source when it is
    media on disk, else (a camera or a stream, which cannot be read twice alike) the bundled demo clip."""
    if settings.calib_source:
        return settings.calib_source
    live = settings.source == "webcam" or settings.source.isdigit() or is_stream_url(settings.source)
    return DEMO if live else settings.source


def _reference_detections(settings: BenchSettings, model_path: str, input_hw: tuple[int, int]) -> tuple[list, list]:
    """ONNX Runtime fp32's detections on the guard's frames (spread over the calibration source), and the frames."""
    from ..inference import create_engine
    from ..inference.selection import TRIAL_FRAMES
    from ..trial_inputs import MediaFrames, detections_of

    images = list(MediaFrames(_guard_source(settings)).frames(TRIAL_FRAMES))
    engine = create_engine(model_path, backend="onnxruntime", precision="fp32", imgsz=input_hw)
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


def _open_dataset(data: str | None):
    """The labelled dataset at ``data`` as ``rtdetect val`` reads it (None without ``data``); checked before
    anything is measured."""
    if data is None:
        return None
    from ..val.formats import open_dataset
    from ..val.scoring import require_val_extra

    require_val_extra("rtdetect bench --data")
    return open_dataset(data)


def _compare(settings: BenchSettings, configs: list[dict], argv: list[str], probe, say: Callable[[str], None]) -> dict:
    """``--compare``: the other command beside the rtdetect command of auto's choice among the measured
    configurations (else the first that ran), whole processes interleaved (``compare.py``)."""
    from .compare import compare, rtdetect_command

    chosen = next((c for c in configs if c.get("auto_choice")), None) or next(
        (c for c in configs if c["status"] == "ok"), None)
    if chosen is None:
        raise RtdetectError("--compare: no configuration could run here")
    frames = settings.compare_frames or probe.frame_count
    with tempfile.TemporaryDirectory(prefix="rtdetect-compare-") as out:
        ours = rtdetect_command(settings, chosen["backend"], chosen["precision"], settings.compare_frames,
                                probe.fps is not None, Path(out))
        result = compare({"rtdetect": ours, "other": argv}, frames=frames, rounds=settings.repeats, say=say)
    return {**result, "configuration": chosen["name"],
            "frames_from": "--compare-frames" if settings.compare_frames else "the source's length"}


def run_bench(*, progress: Callable[[str], None] = _quiet, **options) -> dict:
    """Measure every configuration; returns the report (the JSON document, see ``report.py``).

    Keyword options are the fields of ``BenchSettings``: source (any ``--source``), model (zoo name,
    .onnx or .pt), backends and precisions (their product is the list of configurations), imgsz (as
    detection takes it: None or N, the long side with the source's aspect, or (H, W) exactly),
    frames (counted per repeat), warmup (frames and model calls not counted), repeats, conf, iou,
    max_det, sink (``video`` | ``render`` | ``none``, see ``sinks.SINK_MODES``), threads (ONNX Runtime
    intra-op threads; None = the engine's default), calib_source / calib_frames (INT8 calibration frames,
    spread over the source; default: the benchmark source, 200 frames), stream_options (timeout, reconnect
    budget, RTSP transport for stream URLs), data (a labelled dataset, as ``rtdetect val --data`` takes:
    each configuration gets ``accuracy``, its box and mask mAP scored as ``rtdetect val`` scores), compare
    (another tool's command line, run as a whole process beside the equivalent rtdetect command:
    ``compare.py``) and compare_frames (the frames it processes; default: the source's length).
    ``progress`` receives one line before each slow step (model conversion, each engine, each measurement). Live sources add ``live``: stale frames dropped and, for
    frames stamped with their send time, capture → detections latency against its target.
    """
    settings = BenchSettings(**options)
    dataset = _open_dataset(settings.data)
    compare_argv = None
    if settings.compare is not None:
        from .compare import parse_command

        compare_argv = parse_command(settings.compare)
    probe = probe_source(settings.source, settings.stream_options)
    if compare_argv and not (settings.compare_frames or probe.frame_count):
        raise UsageError("--compare: the source's length is unknown here: give --compare-frames N")
    input_hw = network_input_hw(settings.imgsz, probe.frame_hw)  # detection's rule for this source
    progress(f"preparing the model {settings.model} at {input_hw[0]}x{input_hw[1]} (converted on first use)")
    model_path = resolve_model_path(settings.model, input_hw)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    progress("detections of onnxruntime fp32 on the guard's frames (the agreement reference)")
    guard = _reference_detections(settings, model_path, input_hw)
    configs = measure_configs(settings, model_path, input_hw, probe.image, guard, progress, dataset)
    _mark_auto_choice(configs)
    described = {k: v for k, v in asdict(settings).items() if k != "configs"}
    described.update(source=redact_url(settings.source), model_path=model_path,
                     calib_source=settings.calib_source and redact_url(settings.calib_source),
                     sink_description=SINK_MODES[settings.sink],
                     compare=settings.compare and redact_text(settings.compare),
                     imgsz=list(settings.imgsz) if isinstance(settings.imgsz, tuple) else settings.imgsz,
                     input_hw=list(input_hw), source_frame_hw=probe.frame_hw and list(probe.frame_hw))
    report = {"schema": SCHEMA, "created": started, "host": host_info(), "settings": described, "configs": configs}
    if compare_argv:
        report["compare"] = _compare(settings, configs, compare_argv, probe, progress)
    return report
