"""Many streams, one engine: batch N in one call vs N single calls (model only), and the whole multi-stream
path (rtdetect.streams) vs N separate single-stream pipelines, on this CPU, interleaved.

    cd benchmarks && PYTHONPATH=.. python multistream.py [--imgsz 320] [--repeats 5] [--streams 1 2 4 8]

Model: the default YOLOv5s-seg, exported by the zoo with a dynamic batch (``rtdetect.streams`` needs it),
at ``--imgsz`` square; the same file for every configuration. Model only: real frames of
tests/data/vtest_3s.mp4 letterboxed, ``engine.infer`` on (N, 3, H, W) once vs on each (1, 3, H, W) in turn, alternating within each
repeat, on ONNX Runtime fp32 and OpenVINO fp32 with their default threads (all cores). Whole path: N copies
of tests/data/vtest_3s.mp4 (30 frames, 768x576) through ``rtdetect.streams.run_streams`` (JSONL per stream) vs the same
N files through ``Runner.run`` one after another (JSONL), ONNX Runtime fp32, frames/s over the wall time.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import ROOT, machine, print_table, read_frame, save_results

sys.path.insert(0, str(ROOT))
from rtdetect.capture import open_source  # noqa: E402
from rtdetect.inference import create_engine  # noqa: E402
from rtdetect.models.zoo import resolve_model  # noqa: E402
from rtdetect.run import CpuModel, Runner  # noqa: E402
from rtdetect.postprocess import PostprocessConfig  # noqa: E402
from rtdetect.preprocess import Preprocessor  # noqa: E402
from rtdetect.sinks import JsonlSink  # noqa: E402
from rtdetect.streams import StreamEntry, StreamOutputs, run_streams  # noqa: E402

CLIP = ROOT / "tests" / "data" / "vtest_3s.mp4"  # 30 frames, 768x576


def model_only(engine, sizes: list[int], repeats: int) -> list[dict]:
    """Per N: median seconds of one (N, ...) call and of N (1, ...) calls, alternating."""
    prepare = Preprocessor(engine.input_hw, dtype=engine.input_dtype)
    frames = np.concatenate([prepare(read_frame(CLIP, 3 * k))[0] for k in range(max(sizes))])
    rows = []
    for n in sizes:
        batch = np.ascontiguousarray(frames[:n])
        engine.infer(batch)  # warm-up of this shape, untimed
        one_call, single_calls = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            engine.infer(batch)
            one_call.append(time.perf_counter() - start)
            start = time.perf_counter()
            for k in range(n):
                engine.infer(batch[k:k + 1])
            single_calls.append(time.perf_counter() - start)
        batched, single = statistics.median(one_call), statistics.median(single_calls)
        rows.append({"n": n, "batch_ms": round(batched * 1e3, 1), "singles_ms": round(single * 1e3, 1),
                     "batch_ms_per_frame": round(batched * 1e3 / n, 1), "speedup": round(single / batched, 3)})
    return rows


def run_multi(pipeline: CpuModel, files: list[Path], out: Path) -> float:
    entries = [StreamEntry(str(f), f.stem, k + 1) for k, f in enumerate(files)]
    start = time.perf_counter()
    result = run_streams(entries, lambda sizes: pipeline, StreamOutputs(str(out)))
    wall = time.perf_counter() - start
    assert all(s.status == "done" and s.frames == 30 for s in result.streams), result
    return wall


def run_separate(pipeline: CpuModel, files: list[Path], out: Path) -> float:
    start = time.perf_counter()
    for f in files:
        sink = JsonlSink(str(out / f"{f.stem}.jsonl"), pipeline.names)
        with open_source(str(f)) as src:
            Runner(pipeline).run(src, [sink])
        sink.close()
    return time.perf_counter() - start


def whole_path(model: str, imgsz: int, sizes: list[int], repeats: int) -> list[dict]:
    folder = Path(tempfile.mkdtemp(prefix="multistream-bench-"))
    files = []
    for k in range(max(sizes)):
        files.append(folder / f"clip{k}.mp4")
        shutil.copy(CLIP, files[-1])
    rows = []
    with create_engine(model, backend="onnxruntime", precision="fp32", imgsz=(imgsz, imgsz)) as engine:
        pipeline = CpuModel(engine, PostprocessConfig())
        run_multi(pipeline, files[:1], Path(tempfile.mkdtemp(dir=folder)))  # warm-up, untimed
        for n in sizes:
            multi, separate = [], []
            for _ in range(repeats):
                multi.append(run_multi(pipeline, files[:n], Path(tempfile.mkdtemp(dir=folder))))
                separate.append(run_separate(pipeline, files[:n], Path(tempfile.mkdtemp(dir=folder))))
            frames = 30 * n
            m, s = statistics.median(multi), statistics.median(separate)
            rows.append({"n": n, "multi_fps": round(frames / m, 1), "separate_fps": round(frames / s, 1),
                         "ratio": round(s / m, 3), "multi_s": [round(v, 2) for v in multi],
                         "separate_s": [round(v, 2) for v in separate]})
    shutil.rmtree(folder)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--path-repeats", type=int, default=2)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    model = str(resolve_model("yolov5s-seg", imgsz=(args.imgsz, args.imgsz), dynamic=True))
    payload = {"machine": machine(), "model": "yolov5s-seg (dynamic batch)", "imgsz": args.imgsz, "model_only": {}}
    for backend in ("onnxruntime", "openvino"):
        with create_engine(model, backend=backend, precision="fp32", imgsz=(args.imgsz, args.imgsz),
                           batch=max(args.streams)) as engine:
            payload["model_only"][backend] = model_only(engine, args.streams, args.repeats)
        print(f"\nmodel only, {backend} fp32, {args.imgsz}x{args.imgsz}")
        print_table([[r["n"], r["batch_ms"], r["singles_ms"], r["batch_ms_per_frame"], r["speedup"]]
                     for r in payload["model_only"][backend]],
                    ["N", "1 call of N (ms)", "N calls of 1 (ms)", "batched ms/frame", "speed-up"])
    payload["whole_path"] = whole_path(model, args.imgsz, args.streams, args.path_repeats)
    print(f"\nwhole path, onnxruntime fp32, {args.imgsz}x{args.imgsz}, 30 frames per stream")
    print_table([[r["n"], r["multi_fps"], r["separate_fps"], r["ratio"]] for r in payload["whole_path"]],
                ["streams", "one engine, batched (FPS)", "separate pipelines (FPS)", "ratio"])
    payload["load_avg_after"] = machine()["load_avg"]
    print(save_results("multistream", payload))


if __name__ == "__main__":
    main()
