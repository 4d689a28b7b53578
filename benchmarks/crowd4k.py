"""Masks that cost what the objects cost (issue 9, item 4): a 4K crowd clip, segmentation vs detection only.

    /work/main/.venv/bin/python benchmarks/crowd4k.py [--frames 24] [--repeats 3] [--base /path/to/other/checkout]

Builds ``--clip`` (default: a temporary file) by tiling tests/data/bus.jpg and zidane.jpg into
3840x2160 frames (6x4 tiles, shifted a little every frame so the frames differ; ~80 instances per frame
with the default model), then times whole processes of ``python -m rtdetect.cli --source CLIP --model M
--json OUT --save OUT.mp4 --no-progress`` for M = yolov5s (detection only: the same weights without the mask
branch) and yolov5s-seg, from this checkout and, with ``--base``, from another one (e.g. main before the
change), interleaved per repeat so that machine load hits every variant alike. Peak RSS is the child's own
(``os.wait4``). Target: segmentation within 2x the time of detection only, and under 1 GiB peak RSS.
Results: benchmarks/results/crowd4k.json (or --name).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, print_table, save_results  # noqa: E402

MEDIA = ROOT / "tests" / "data"  # bus.jpg and zidane.jpg, the same files as /work/shared/media
FRAME_HW = (2160, 3840)
GRID = (4, 6)  # rows, columns of tiles
MODELS = ("yolov5s", "yolov5s-seg")
GIB = 1 << 30


def crowd_frame(tiles: list[np.ndarray], shift: int) -> np.ndarray:
    """One (2160, 3840, 3) uint8 BGR frame: the tiles in a 4x6 grid, alternating, rolled by ``shift`` px."""
    rows, cols = GRID
    cell_h, cell_w = FRAME_HW[0] // rows, FRAME_HW[1] // cols
    cells = [cv2.resize(t, (cell_w, cell_h), interpolation=cv2.INTER_AREA) for t in tiles]
    grid = [[cells[(r + c) % len(cells)] for c in range(cols)] for r in range(rows)]
    return np.roll(np.vstack([np.hstack(line) for line in grid]), shift, axis=1)


def build_clip(path: Path, frames: int) -> Path:
    """Write the crowd clip (mp4v, 10 FPS) to ``path`` unless it exists with ``frames`` frames."""
    capture = cv2.VideoCapture(str(path))
    if path.exists() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == frames:
        capture.release()
        return path
    capture.release()
    tiles = [cv2.imread(str(MEDIA / name)) for name in ("bus.jpg", "zidane.jpg")]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, FRAME_HW[::-1])
    for i in range(frames):
        writer.write(crowd_frame(tiles, 8 * i))
    writer.release()
    return path


def run_once(code: Path, model: str, clip: Path, out: Path, max_frames: int | None = None) -> dict:
    """One whole ``rtdetect`` process from checkout ``code``: wall seconds, peak RSS, frames, detections."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "rtdetect.cli", "--source", str(clip), "--model", model,
               "--json", str(out / "out.jsonl"), "--save", str(out / "out.mp4"), "--no-progress"]
    command += [] if max_frames is None else ["--max-frames", str(max_frames)]
    with open(out / "log.txt", "w+", encoding="utf-8") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage, not the max over all children
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {text.strip()}")
    summary = re.search(r"(\d+) frames in [\d.]+ s .*?, (\d+) detections", text)
    for name in ("out.jsonl", "out.mp4"):
        (out / name).unlink()
    return {"seconds": round(seconds, 3), "peak_rss_gib": round(usage.ru_maxrss * 1024 / GIB, 3),
            "frames": int(summary[1]), "detections": int(summary[2])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=Path(tempfile.gettempdir()) / "rtdetect-crowd4k.mp4")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--base", type=Path, help="another checkout to time alongside this one (e.g. main)")
    parser.add_argument("--name", default="crowd4k")
    args = parser.parse_args()
    clip = build_clip(args.clip, args.frames)
    codes = {"this": ROOT} | ({"base": args.base.resolve()} if args.base else {})
    variants = [(label, model) for label in codes for model in MODELS]
    runs: dict[str, list[dict]] = {f"{label} {model}": [] for label, model in variants}
    with tempfile.TemporaryDirectory(prefix="rtdetect-crowd4k-") as folder:
        for label, model in variants:  # untimed: converts the zoo models once, warms the page cache
            run_once(codes[label], model, clip, Path(folder), max_frames=2)
        for repeat in range(args.repeats):
            order = variants[repeat % len(variants):] + variants[:repeat % len(variants)]
            for label, model in order:
                result = run_once(codes[label], model, clip, Path(folder))
                runs[f"{label} {model}"].append(result)
                print(f"repeat {repeat}: {label} {model}: {result}", flush=True)
            report(runs, codes, args)  # after every repeat: a long run stopped early still leaves its figures


def report(runs: dict[str, list[dict]], codes: dict[str, Path], args) -> None:
    rows, summary = [], {}
    for label in codes:
        det, seg = runs[f"{label} yolov5s"], runs[f"{label} yolov5s-seg"]
        ratios = [s["seconds"] / d["seconds"] for d, s in zip(det, seg)]
        entry = {"det_seconds_median": statistics.median(r["seconds"] for r in det),
                 "seg_seconds_median": statistics.median(r["seconds"] for r in seg),
                 "seg_over_det_median": round(statistics.median(ratios), 3),
                 "seg_over_det_each": [round(r, 3) for r in ratios],
                 "det_peak_rss_gib_max": max(r["peak_rss_gib"] for r in det),
                 "seg_peak_rss_gib_max": max(r["peak_rss_gib"] for r in seg),
                 "seg_detections_per_frame": round(seg[0]["detections"] / seg[0]["frames"], 1)}
        summary[label] = entry
        frames = seg[0]["frames"]
        rows.append([label, f"{frames / entry['det_seconds_median']:.2f}", f"{frames / entry['seg_seconds_median']:.2f}",
                     f"{entry['seg_over_det_median']:.2f}", f"{entry['det_peak_rss_gib_max']:.2f}",
                     f"{entry['seg_peak_rss_gib_max']:.2f}", f"{entry['seg_detections_per_frame']}"])
    print_table(rows, ["code", "det FPS", "seg FPS", "seg/det time", "det RSS GiB", "seg RSS GiB", "seg dets/frame"])
    save_results(args.name, {"machine": machine(), "clip": {"path": str(args.clip), "frames": args.frames,
                                                             "frame_hw": FRAME_HW, "grid": GRID},
                             "codes": {k: str(v) for k, v in codes.items()}, "runs": runs, "summary": summary,
                             "targets": {"seg_over_det": 2.0, "peak_rss_gib": 1.0}})


if __name__ == "__main__":
    main()
