"""`rtdetect batch` on one local Ray cluster: 1 actor vs 2 actors (1 inference thread each) vs 1 actor with 2
threads, on the same files, interleaved, whole commands (connect, actor start, model load included).

    cd benchmarks && PYTHONPATH=.. python cluster_scaling.py [--files 4] [--repeats 2] [--model yolov5s-seg] [--imgsz 320]

Files: ``--files`` clips of the 30 frames (768x576) of tests/data/vtest_3s.mp4. The machine's CPU use over each
run is read from /proc/stat (all processes: other engineers' work counts too, so the load average is
saved beside it). Ray runs its workers at nice 15 by default; on this shared machine that starves them behind
the other engineers' processes, so the cluster is started with ``RAY_worker_niceness=0``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, print_table, save_results

CONFIGS = {"1 actor x 1 thread": ("--actors", "1", "--threads", "1"),
           "2 actors x 1 thread": ("--actors", "2", "--threads", "1"),
           "1 actor x 2 threads": ("--actors", "1", "--threads", "2")}


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def make_files(folder: Path, count: int) -> None:
    for n in range(count):
        shutil.copy(ROOT / "tests" / "data" / "vtest_3s.mp4", folder / f"clip{n:02d}.mp4")


def run_once(address: str, files: Path, model: str, imgsz: int, flags: tuple) -> dict:
    out = Path(tempfile.mkdtemp(prefix="batch-bench-out-"))
    busy0, total0 = cpu_ticks()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rtdetect.cli", "batch", "--source", str(files / "*.mp4"), "--output-dir",
                    str(out), "--model", model, "--imgsz", str(imgsz), "--backend", "onnxruntime", "--precision", "fp32", "--cluster",
                    address, "--no-progress", *flags], check=True, capture_output=True)
    wall = time.perf_counter() - start
    busy1, total1 = cpu_ticks()
    entries = json.loads((out / "manifest.json").read_text())["files"].values()
    shutil.rmtree(out)
    frames = sum(e["frames"] for e in entries)
    return {"wall_s": wall, "frames": frames, "fps": frames / wall, "cpu_busy": (busy1 - busy0) / (total1 - total0),
            "file_fps_median": statistics.median(e["fps"] for e in entries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="yolov5s-seg")
    parser.add_argument("--imgsz", type=int, default=320)
    args = parser.parse_args()
    import ray

    files = Path(tempfile.mkdtemp(prefix="batch-bench-in-"))
    make_files(files, args.files)
    os.environ["RAY_worker_niceness"] = "0"  # read by the raylet this ray.init starts (see the module doc)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    address = ray.get_runtime_context().gcs_address
    runs = {name: [] for name in CONFIGS}
    try:
        run_once(address, files, args.model, args.imgsz, CONFIGS["1 actor x 1 thread"])  # model conversion, caches: untimed
        for _ in range(args.repeats):
            for name, flags in CONFIGS.items():  # interleaved: load changes hit every configuration alike
                runs[name].append(run_once(address, files, args.model, args.imgsz, flags))
    finally:
        ray.shutdown()
        shutil.rmtree(files)
    base = statistics.median(r["wall_s"] for r in runs["1 actor x 1 thread"])
    rows = []
    for name, results in runs.items():
        wall = statistics.median(r["wall_s"] for r in results)
        rows.append([name, f"{wall:.1f}", f"{statistics.median(r['fps'] for r in results):.2f}",
                     f"{statistics.median(r['file_fps_median'] for r in results):.2f}",
                     f"{100 * statistics.median(r['cpu_busy'] for r in results):.0f}%", f"{base / wall:.2f}x"])
    print_table(rows, ["configuration", "wall s (median)", "frames/s whole command", "per-file FPS (median)",
                       "machine CPU busy", "speed-up vs 1x1"])
    save_results("cluster_scaling", {"machine": machine(), "files": args.files, "frames_per_file": 30,
                                     "model": args.model, "imgsz": args.imgsz, "runs": runs})


if __name__ == "__main__":
    main()
