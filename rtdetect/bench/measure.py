"""The two measurements of one configuration: the threaded run end to end (``rtdetect.run.Runner``, as the
command runs it), and the model alone."""
from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from ..capture import StreamOptions, open_source
from ..inference.base import Engine
from ..metrics import StageTimes
from ..run import Model, Runner, WorkItem
from ..preprocess import Preprocessor
from .resources import CpuWindow, PeakRss
from .sinks import open_sinks
from .stamp import read_stamp


@dataclass
class EndToEnd:
    """One threaded run: ``frames`` counted after ``warmup``; stage samples in seconds."""

    frames: int = 0
    seconds: float = 0.0
    detections: int = 0
    stages: StageTimes = field(default_factory=StageTimes)
    cores_used: float | None = None
    peak_rss: int | None = None
    rss_method: str = ""
    live: bool = False
    frames_dropped: int = 0
    frame_ages: list[float] = field(default_factory=list)  # s from a stamped frame's send time to its detections

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _FrameClock:
    """``on_frame`` callback: stage samples after the warm-up, and the wall/CPU window of the counted frames."""

    def __init__(self, warmup: int, started: float) -> None:
        self.warmup, self.seen, self.last, self.first = warmup, 0, started, started
        self.stages, self.cpu, self.detections = StageTimes(warmup=warmup), CpuWindow(), 0
        self.ages: list[float] = []
        if warmup == 0:
            self.cpu.start()

    def __call__(self, item: WorkItem) -> None:
        now = time.perf_counter()
        self.seen += 1
        self.stages.add(item.timings)
        if self.seen == self.warmup:
            self.first = now
            self.cpu.start()
        elif self.seen > self.warmup:
            self.last = now
            self.detections += len(item.detections)
            written = time.time()  # the detections were just written: the stamp (if any) says when it was sent
            sent = read_stamp(item.frame.image, written)
            if sent is not None:
                self.ages.append(written - sent)


def run_end_to_end(model: Model, *, source: str, frames: int, warmup: int, sink: str,
                   stream_options: StreamOptions | None = None) -> EndToEnd:
    """``Runner(model).run`` over ``warmup + frames`` frames of ``source`` into the sinks of mode ``sink``.

    Throughput is counted from the completion of the last warm-up frame to the completion of the last
    frame, so warm-up frames (and thread start-up) never enter a figure. For frames that carry a send time
    (``stamp.py``; ``tools/live_servers.py`` serves such streams) the age at which their detections were
    written is recorded: the capture → detections latency of a live source.
    """
    with ExitStack() as stack:
        src = stack.enter_context(open_source(source, stream_options=stream_options))
        sinks = open_sinks(sink, None if src.is_live else src.fps, stack)
        rss = stack.enter_context(PeakRss())
        clock = _FrameClock(warmup, time.perf_counter())
        result = Runner(model).run(src, sinks, max_frames=warmup + frames, on_frame=clock)
        clock.cpu.stop()
    counted = max(0, clock.seen - warmup)
    return EndToEnd(frames=counted, seconds=clock.last - clock.first if counted else 0.0,
                    detections=clock.detections, stages=clock.stages, cores_used=clock.cpu.cores_used,
                    peak_rss=rss.peak, rss_method=rss.method, live=src.is_live,
                    frames_dropped=result.frames_dropped, frame_ages=clock.ages)


@dataclass
class ModelOnly:
    """The engine alone on one prepared input: per-call latency (s) and throughput."""

    frames: int
    seconds: float
    latencies: list[float]
    cores_used: float | None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SourceProbe:
    """What a bench needs to know of its source before measuring: the first frame ((H, W, 3) uint8 BGR),
    the frame size detection chooses its input shape by (``Source.frame_hw``: None when frames vary in
    size), the number of frames (None: unknown or live) and the frame rate (None: not a video)."""

    image: np.ndarray
    frame_hw: tuple[int, int] | None
    frame_count: int | None
    fps: float | None


def probe_source(source: str, stream_options: StreamOptions | None = None) -> SourceProbe:
    """Open ``source`` once and read its first frame; ValueError when it gives none."""
    with open_source(source, stream_options=stream_options) as src:
        for frame in src:
            return SourceProbe(frame.image, src.frame_hw, None if src.is_live else src.frame_count, src.fps)
    raise ValueError(f"source {src.name!r} gave no frame")


def first_frame(source: str, stream_options: StreamOptions | None = None) -> np.ndarray:
    """The first frame of ``source`` as (H, W, 3) uint8 BGR."""
    return probe_source(source, stream_options).image


def run_model_only(engine: Engine, image: np.ndarray, *, frames: int, warmup: int) -> ModelOnly:
    """``engine.infer`` ``warmup`` times untimed, then ``frames`` times timed, on ``image`` preprocessed once
    on the CPU (host tensor in, host outputs out, whatever the backend)."""
    tensor, _ = Preprocessor(engine.input_hw, dtype=engine.input_dtype)(image)
    for _ in range(warmup):
        engine.infer(tensor)
    latencies, cpu = [], CpuWindow()
    cpu.start()
    start = time.perf_counter()
    for _ in range(frames):
        began = time.perf_counter()
        engine.infer(tensor)
        latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - start
    cpu.stop()
    return ModelOnly(frames, seconds, latencies, cpu.cores_used)
