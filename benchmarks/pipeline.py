"""rtdetect's threaded pipeline against a naive sequential loop, and against the model alone.

    /work/venv/bin/python benchmarks/pipeline.py [--model yolov5s-seg] [--source vtest.avi] [--frames 200]
        [--threads 2,1] [--repeats 3]

Per ONNX Runtime thread setting and repeat, on the same engine, clip and frames (warm-up not counted):
* model-only: ``engine.infer`` on one prepared input, as many calls as frames;
* rtdetect: ``Runner.run`` with a real ``VideoSink`` (render + mp4v encode into a temporary file);
* naive: read → preprocess → infer → postprocess → render → write, one frame after the other.
Target (issue 3): rtdetect end to end >= 95% of model-only FPS; peak RSS < 1 GiB on vtest.avi.

``--variants`` measures why the threaded run falls short of the model alone on 2 cores: ``spin-off``
stops ONNX Runtime's idle intra-op threads from busy-waiting (``OnnxRuntimeEngine(spinning=False)``);
``nice`` runs the preprocess and post-process stage threads at nice +10 (Linux per-thread priority), so
they take the cores only when inference leaves them (an experiment: rtdetect.run would have to do it).
Results: benchmarks/results/pipeline.json (or --name).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402

from _common import VTEST, machine, print_table, save_results  # noqa: E402
from rtdetect.api import resolve_model_path  # noqa: E402
from rtdetect.bench.measure import first_frame, run_end_to_end, run_model_only  # noqa: E402
from rtdetect.bench.resources import CpuWindow, PeakRss  # noqa: E402
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine  # noqa: E402
from rtdetect.run import CpuModel, Runner  # noqa: E402
from rtdetect.annotate import Renderer  # noqa: E402

TARGET_RATIO = 0.95


def naive_loop(pipeline: CpuModel, source: str, *, frames: int, warmup: int) -> dict:
    """The plain sequential loop a user would write; FPS over the frames after ``warmup``."""
    capture = cv2.VideoCapture(source)
    renderer = Renderer(pipeline.names)
    with tempfile.TemporaryDirectory(prefix="rtdetect-naive-") as folder:
        writer, done, cpu, start = None, 0, CpuWindow(), time.perf_counter()
        while done < warmup + frames:
            if done == warmup:
                cpu.start()
                start = time.perf_counter()
            ok, image = capture.read()
            if not ok:
                break
            tensor, box = pipeline.preprocess(image)
            detections, _ = pipeline.postprocess(pipeline.engine.infer(tensor), box)
            rendered = renderer.render(image, detections)
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(os.path.join(folder, "naive.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
            writer.write(rendered)
            done += 1
        seconds = time.perf_counter() - start
        cpu.stop()
        writer.release()
    capture.release()
    counted = max(0, done - warmup)
    return {"fps": counted / seconds if counted else 0.0, "frames": counted, "cpu_cores_used": cpu.cores_used}


NICE = 10


def _lower_priority() -> None:
    """Nice the calling thread (Linux: per-thread priority through its native id)."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class NiceModel(CpuModel):
    """The model with its preprocess and post-process threads at nice +10 (experiment, see module doc)."""

    def prepare(self, item, preprocess=None) -> None:
        _lower_priority()
        super().prepare(item, preprocess)

    def finish(self, item) -> None:
        _lower_priority()
        super().finish(item)


def end_to_end(pipeline: CpuModel, args):
    """``run_end_to_end``; for the nice variant in a helper thread (render + write run at nice +10 too)."""
    if not isinstance(pipeline, NiceModel):
        return run_end_to_end(pipeline, source=args.source, frames=args.frames, warmup=args.warmup, sink="video")
    box = []

    def body() -> None:
        _lower_priority()
        box.append(run_end_to_end(pipeline, source=args.source, frames=args.frames, warmup=args.warmup, sink="video"))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    return box[0]


def one_repeat(pipeline: CpuModel, image, args) -> dict:
    model = run_model_only(pipeline.engine, image, frames=args.frames, warmup=args.warmup)
    e2e = end_to_end(pipeline, args)
    naive = naive_loop(pipeline, args.source, frames=args.frames, warmup=args.warmup)
    stages = {k: round(statistics.median(v) * 1e3, 3) for k, v in e2e.stages.samples.items()}
    return {"load_avg": list(os.getloadavg()), "model_only_fps": model.fps, "model_only_cores": model.cores_used,
            "rtdetect_fps": e2e.fps, "rtdetect_frames": e2e.frames, "rtdetect_cores": e2e.cores_used,
            "rtdetect_peak_rss_mib": (e2e.peak_rss or 0) / 2**20, "naive_fps": naive["fps"],
            "naive_cores": naive["cpu_cores_used"], "ratio": e2e.fps / model.fps, "stage_p50_ms": stages}


def measure(model_path: str, threads: int, variant: str, image, args) -> dict:
    engine = OnnxRuntimeEngine(model_path, imgsz=args.imgsz, threads=threads,
                               spinning=False if "spin-off" in variant else None)
    try:
        pipeline = (NiceModel if "nice" in variant else CpuModel)(engine)
        runs = [one_repeat(pipeline, image, args) for _ in range(args.repeats)]
    finally:
        engine.close()
    med = {k: statistics.median(r[k] for r in runs) for k in ("model_only_fps", "rtdetect_fps", "naive_fps", "ratio")}
    return {"threads": threads, "variant": variant, "runs": runs, **med, "met": med["ratio"] >= TARGET_RATIO,
            "peak_rss_mib": max(r["rtdetect_peak_rss_mib"] for r in runs)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolov5s-seg")
    parser.add_argument("--source", default=str(VTEST))
    parser.add_argument("--imgsz", type=int, nargs=2, default=[640, 640], metavar=("H", "W"))
    parser.add_argument("--frames", type=int, default=200, help="counted frames per run (default 200)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", default="2,1", help="ONNX Runtime intra-op thread counts to compare")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="default", help="comma-separated: default, spin-off, nice, spin-off+nice")
    parser.add_argument("--name", default="pipeline", help="results file name (default: pipeline)")
    parser.add_argument("--no-save", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.imgsz = tuple(args.imgsz)
    model_path = resolve_model_path(args.model, args.imgsz)
    host = machine()
    print(f"# pipeline vs naive vs model-only: {args.model} {args.imgsz} on {args.source}, {args.frames} frames x "
          f"{args.repeats} repeats, load average {host['load_avg']}")
    image = first_frame(args.source)
    with PeakRss() as rss:
        results = [measure(model_path, int(t), v, image, args) for t in args.threads.split(",")
                   for v in args.variants.split(",")]
    print_table([[r["threads"], r["variant"], round(r["model_only_fps"], 2), round(r["rtdetect_fps"], 2), round(r["naive_fps"], 2),
                  f"{r['ratio']:.3f} ({'met' if r['met'] else 'MISSED'})", round(r["rtdetect_fps"] / r["naive_fps"], 2),
                  round(r["peak_rss_mib"]), [round(x["load_avg"][0], 2) for x in r["runs"]]] for r in results],
                ["ORT threads", "variant", "model-only FPS", "rtdetect FPS", "naive loop FPS", "rtdetect / model-only (>= 0.95)",
                 "rtdetect / naive", "peak RSS MiB", "load (1 min) per repeat"])
    host["load_avg_after"] = machine()["load_avg"]
    print(f"process peak RSS over the whole script: {(rss.peak or 0) / 2**20:.0f} MiB; load after {host['load_avg_after']}")
    if not args.no_save:
        print("wrote", save_results(args.name, {"machine": host, "model": args.model, "model_path": model_path,
                                                "imgsz": list(args.imgsz), "source": args.source, "frames": args.frames,
                                                "warmup": args.warmup, "process_peak_rss_mib": (rss.peak or 0) / 2**20,
                                                "results": results}))


if __name__ == "__main__":
    main()
