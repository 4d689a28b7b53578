"""Latency figures against values computed by hand, so a wrong percentile cannot hide behind the
"p50 <= p95 <= p99" ordering checks of test_bench.py.

Percentiles are NumPy's default (linear interpolation between order statistics): for n sorted samples
the q-th percentile sits at rank r = q / 100 * (n - 1), i.e. s[floor(r)] + frac(r) * (s[floor(r) + 1] - s[floor(r)]).
"""
import math

import pytest

from rtdetect.bench.measure import EndToEnd, ModelOnly
from rtdetect.bench.report import _stats
from rtdetect.bench.runner import _summarise
from rtdetect.metrics import LatencySummary, StageTimes

# Sorted: 1 2 3 4 10 (ms). Ranks: p50 -> 2 (3.0); p95 -> 3.8: 4 + 0.8 * 6 = 8.8; p99 -> 3.96: 4 + 0.96 * 6 = 9.76.
FIVE_MS = [4.0, 1.0, 3.0, 10.0, 2.0]
# Sorted: 9 10 11 11 12 12 13 14 30 50. p50 -> 4.5: 12; p95 -> 8.55: 30 + 0.55 * 20 = 41; p99 -> 8.91: 48.2.
TEN_MS = [10.0, 12.0, 11.0, 30.0, 13.0, 9.0, 14.0, 50.0, 12.0, 11.0]


def seconds(ms):
    return [v / 1e3 for v in ms]


@pytest.mark.parametrize("ms, mean, p50, p95, p99", [
    (FIVE_MS, 4.0, 3.0, 8.8, 9.76),
    (TEN_MS, 17.2, 12.0, 41.0, 48.2),
    ([7.0], 7.0, 7.0, 7.0, 7.0),
])
def test_latency_summary_against_hand_computed_percentiles(ms, mean, p50, p95, p99):
    summary = LatencySummary.of(seconds(ms))
    assert summary.count == len(ms)
    for got, want in ((summary.mean, mean), (summary.p50, p50), (summary.p95, p95), (summary.p99, p99)):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_no_samples_give_nan_not_zero():
    summary = LatencySummary.of([])
    assert summary.count == 0 and all(math.isnan(v) for v in (summary.mean, summary.p50, summary.p95, summary.p99))


def test_stage_times_skip_the_warmup_frames():
    times = StageTimes(warmup=2)
    for ms in [500.0, 400.0, *FIVE_MS]:  # the two slow warm-up frames must not count
        times.add({"inference": ms / 1e3})
    summary = times.summary()["inference"]
    assert (summary.count, summary.p50, summary.p95) == (5, pytest.approx(3.0), pytest.approx(8.8))


def test_bench_report_pools_stage_samples_and_summarises_model_latency():
    """The figures ``rtdetect bench`` writes: per-stage samples pooled over repeats, model-only latency of
    every call; 4-decimal rounding only."""
    runs = []
    for part in (FIVE_MS[:2], FIVE_MS[2:]):  # the same five samples, split over two repeats
        stages = StageTimes()
        for ms in part:
            stages.add({"inference": ms / 1e3})
        runs.append(EndToEnd(frames=len(part), seconds=1.0, stages=stages))
    model = [ModelOnly(frames=5, seconds=0.1, latencies=seconds(TEN_MS[:5]), cores_used=None),
             ModelOnly(frames=5, seconds=0.1, latencies=seconds(TEN_MS[5:]), cores_used=None)]
    figures = _summarise(runs, model)
    assert figures["stages_ms"]["inference"] == {"count": 5, "mean": 4.0, "p50": 3.0, "p95": 8.8, "p99": 9.76}
    assert figures["model_only"]["latency_ms"] == {"count": 10, "mean": 17.2, "p50": 12.0, "p95": 41.0, "p99": 48.2}
    assert _stats(figures["model_only"]["latency_ms"]) == "17.20 / 12.00 / 41.00 / 48.20"
