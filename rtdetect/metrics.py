"""Per-stage latency statistics and FPS for runs and benchmarks."""
from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np

STAGES = ("capture", "preprocess", "inference", "decode_nms", "masks", "track", "render", "write",
          # the GPU path's own stages (CUDA-event times): host→device copy, the captured CUDA graph
          # (preprocess + inference + decode + NMS + masks in one), device→host copy, masks painted
          # into the frame on the device
          "upload", "gpu_graph", "gpu_eager", "download", "paint")


def ordered_stages(names) -> list[str]:
    """``names`` without repeats in a stable order: the known ``STAGES`` in pipeline order, then any other
    stage (a detection stage added by a user, say) in the order it was first given. Nothing is dropped."""
    seen = list(dict.fromkeys(names))
    return [s for s in STAGES if s in seen] + [s for s in seen if s not in STAGES]


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds over ``count`` samples."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, seconds: list[float]) -> "LatencySummary":
        if not seconds:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"))
        ms = np.asarray(seconds, dtype=np.float64) * 1e3
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return cls(len(ms), float(ms.mean()), float(p50), float(p95), float(p99))


class StageTimes:
    """Collects per-frame stage durations (seconds); frames before ``warmup`` are not counted."""

    def __init__(self, warmup: int = 0) -> None:
        self.warmup = warmup
        self._seen = 0
        self.samples: dict[str, list[float]] = defaultdict(list)

    def add(self, timings: dict[str, float]) -> None:
        self._seen += 1
        if self._seen <= self.warmup:
            return
        for stage, seconds in timings.items():
            self.samples[stage].append(seconds)

    def summary(self) -> dict[str, LatencySummary]:
        """Every stage given to ``add``, in ``ordered_stages`` order."""
        return {stage: LatencySummary.of(self.samples[stage]) for stage in ordered_stages(self.samples)}


class FpsMeter:
    """Frames per second over a sliding window of the last ``window`` frames (for the live overlay)."""

    def __init__(self, window: int = 30) -> None:
        self._stamps: deque[float] = deque(maxlen=window)

    def tick(self) -> float:
        self._stamps.append(time.perf_counter())
        if len(self._stamps) < 2:
            return 0.0
        return (len(self._stamps) - 1) / max(1e-9, self._stamps[-1] - self._stamps[0])
