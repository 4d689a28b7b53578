"""INT8 on the CPU with accuracy: model-only speed and COCO mAP of every CPU engine x precision, one run.

    python benchmarks/int8_val.py [--model yolov5s-seg] [--data ../shared/datasets/coco-person-60] [--rounds 5]

Configurations: ONNX Runtime fp32 / int8 (u8s8, ``session.x64quantprecision``) and OpenVINO fp32 / bf16 /
int8 (NNCF), each INT8 model calibrated on the bundled demo clip (50 frames) as ``--backend auto`` does.
Model-only: one letterboxed demo frame at 640x640, ``--calls`` synchronous inferences per configuration
per round, the configurations interleaved and their order alternating between rounds (the machine is
shared: the load average before and after is recorded); the figure is the median over all calls. Accuracy:
``rtdetect val --data DATA --backend B --precision P --json`` (pycocotools; person AP on coco-person-60),
box and mask mAP50-95. Results: benchmarks/results/int8_val.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import machine, print_table, save_results, stats_ms, time_calls  # noqa: E402

CONFIGS = [("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("openvino", "bf16"),
           ("openvino", "int8")]


def open_engines(model: str) -> dict:
    from rtdetect.api import resolve_model_path
    from rtdetect.inference import open_cpu_engine
    from rtdetect.trial_inputs import MediaFrames

    path = resolve_model_path(model, (640, 640))
    return {c: open_cpu_engine(path, backend=c[0], precision=c[1], calibration=MediaFrames()) for c in CONFIGS}


def model_only(engines: dict, rounds: int, calls: int) -> dict:
    from rtdetect.trial_inputs import MediaFrames

    demo = MediaFrames()
    tensor = demo.prepare(next(demo.frames(1)), (640, 640), np.dtype(np.float32))
    seconds = {c: [] for c in engines}
    order = list(engines)
    for r in range(rounds):
        for config in order if r % 2 == 0 else order[::-1]:
            engine = engines[config]
            seconds[config].extend(time_calls(lambda: engine.infer(tensor), repeat=calls, warmup=3))
    return {c: stats_ms(np.array(s)) for c, s in seconds.items()}


def val(model: str, data: str, backend: str, precision: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "val.json"
        subprocess.run([sys.executable, "-m", "rtdetect.cli", "val", "--data", data, "--model", model,
                        "--backend", backend, "--precision", precision, "--json", str(out)],
                       check=True, stdout=subprocess.DEVNULL, env=os.environ)
        report = json.loads(out.read_text())
    return {"box": report["box"]["map"], "mask": (report.get("mask") or {}).get("map")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolov5s-seg")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/datasets/coco-person-60"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    before = machine()
    engines = open_engines(args.model)  # calibrates the INT8 models on first use (cached)
    speed = model_only(engines, args.rounds, args.calls)
    for engine in engines.values():
        engine.close()
    accuracy = {c: val(args.model, args.data, *c) for c in CONFIGS}
    after = machine()["load_avg"]
    rows = [[f"{b} {p}", speed[(b, p)]["p50"], round(speed[("onnxruntime", "fp32")]["p50"] / speed[(b, p)]["p50"], 2),
             f"{100 * accuracy[(b, p)]['box']:.1f}", f"{100 * accuracy[(b, p)]['mask']:.1f}"] for b, p in CONFIGS]
    print(f"# {before['cpu']}; load {before['load_avg']} -> {after}")
    print_table(rows, ["engine", "model-only ms (p50)", "x ORT fp32", "box mAP50-95", "mask mAP50-95"])
    save_results("int8_val", {"host": before, "load_avg_after": after, "rounds": args.rounds, "calls": args.calls,
                              "rows": [{"config": f"{b} {p}", "model_only_ms": speed[(b, p)], **accuracy[(b, p)]}
                                       for b, p in CONFIGS]})


if __name__ == "__main__":
    main()
