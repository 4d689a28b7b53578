"""``rtdetect bench``: per-stage latency, end-to-end and model-only FPS, CPU use and peak memory for one
or more configurations (backend x precision), written as JSON, Markdown and a plot.

Entry point: :func:`rtdetect.bench.runner.run_bench` (keyword arguments only; the CLI parses argv).
"""
from .runner import BenchSettings, run_bench

__all__ = ["BenchSettings", "run_bench"]
