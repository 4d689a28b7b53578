"""The two measurements of one configuration: the threaded pipeline end to end, and the model alone."""
from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from ..capture import open_source
from ..inference.base import Engine
from ..metrics import LatencySummary, StageTimes
from ..pipeline import Pipeline, WorkItem
from ..preprocess import Preprocessor
from .resources import CpuWindow, PeakRss
from .sinks import open_sinks


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

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _FrameClock:
    """``on_frame`` callback: stage samples after the warm-up, and the wall/CPU window of the counted frames."""

    def __init__(self, warmup: int, started: float) -> None:
        self.warmup, self.seen, self.last, self.first = warmup, 0, started, started
        self.stages, self.cpu, self.detections = StageTimes(warmup=warmup), CpuWindow(), 0
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


def run_end_to_end(pipeline: Pipeline, *, source: str, frames: int, warmup: int, sink: str) -> EndToEnd:
    """``Pipeline.run`` over ``warmup + frames`` frames of ``source`` into the sinks of mode ``sink``.

    Throughput is counted from the completion of the last warm-up frame to the completion of the last
    frame, so warm-up frames (and thread start-up) never enter a figure.
    """
    with ExitStack() as stack:
        src = stack.enter_context(open_source(source))
        sinks = open_sinks(sink, src.fps, stack)
        rss = stack.enter_context(PeakRss())
        clock = _FrameClock(warmup, time.perf_counter())
        pipeline.run(src, sinks, max_frames=warmup + frames, on_frame=clock)
        clock.cpu.stop()
    counted = max(0, clock.seen - warmup)
    return EndToEnd(frames=counted, seconds=clock.last - clock.first if counted else 0.0,
                    detections=clock.detections, stages=clock.stages, cores_used=clock.cpu.cores_used,
                    peak_rss=rss.peak, rss_method=rss.method)


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

    def latency(self) -> LatencySummary:
        return LatencySummary.of(self.latencies)


def first_frame(source: str) -> np.ndarray:
    """The first frame of ``source`` as (H, W, 3) uint8 BGR."""
    with open_source(source) as src:
        for frame in src:
            return frame.image
    raise ValueError(f"source {source!r} gave no frame")


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
