"""Would OpenVINO be a faster CPU backend here than ONNX Runtime? Model-only, same ONNX, same input.

    /work/venv-peers/bin/python benchmarks/openvino_cpu.py [--onnx PATH ...]

The raw OpenVINO API, before rtdetect had an OpenVINO backend (``rtdetect.inference.openvino`` now;
``benchmarks/auto_trial.py`` measures it as ``--backend auto`` does). For each ONNX: ORT with rtdetect's
session options vs OpenVINO's CPU plugin with the LATENCY hint, interleaved rounds, medians; outputs
compared (max absolute difference) on a real vtest.avi frame.
Results: benchmarks/results/openvino_cpu.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import FALL_DIR, machine, print_table, read_frame, save_results, stats_ms, time_calls  # noqa: E402


def openvino_infer(path: str, hint: str):
    import openvino as ov

    compiled = ov.Core().compile_model(path, "CPU", {"PERFORMANCE_HINT": hint})
    request = compiled.create_infer_request()

    def infer(tensor: np.ndarray) -> list[np.ndarray]:
        request.infer({0: tensor})
        return [request.get_output_tensor(i).data.copy() for i in range(len(compiled.outputs))]

    return infer


def compare(path: str, rounds: int) -> dict:
    from rtdetect.inference import create_engine
    from rtdetect.preprocess import Preprocessor

    engine = create_engine(path, backend="onnxruntime")
    tensor, _ = Preprocessor(engine.input_hw)(read_frame())
    runners = {"onnxruntime": engine.infer, "openvino LATENCY": openvino_infer(path, "LATENCY")}
    outputs = {name: run(tensor)[0] for name, run in runners.items()}
    lat = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            lat[name].append(stats_ms(time_calls(lambda: run(tensor), repeat=10, warmup=2))["p50"])
    med = {name: statistics.median(v) for name, v in lat.items()}
    return {"onnx": path, "input_hw": list(engine.input_hw), "p50_ms": med, "rounds_ms": lat,
            "openvino_speedup": med["onnxruntime"] / med["openvino LATENCY"],
            "max_abs_diff": float(np.abs(outputs["onnxruntime"] - outputs["openvino LATENCY"]).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", nargs="*", help="ONNX files (default: the fall model at 640x640 and 480x640)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    if not args.onnx:
        from rtdetect.models.zoo import resolve_model

        args.onnx = [str(resolve_model(str(FALL_DIR / "best.pt"), imgsz=hw)) for hw in ((640, 640), (480, 640))]
    import openvino

    host = machine()
    host["libraries"]["openvino"] = openvino.__version__
    rows = [compare(path, args.rounds) for path in args.onnx]
    print(f"# OpenVINO vs ONNX Runtime, model only; load {host['load_avg']}")
    print_table([[Path(r["onnx"]).name, "x".join(map(str, r["input_hw"])), round(r["p50_ms"]["onnxruntime"], 1),
                  round(r["p50_ms"]["openvino LATENCY"], 1), f"{r['openvino_speedup']:.2f}x", f"{r['max_abs_diff']:.2e}"]
                 for r in rows], ["ONNX", "input", "ORT p50 ms", "OpenVINO p50 ms", "OpenVINO speed-up", "max |diff| of outputs"])
    host["load_avg_after"] = machine()["load_avg"]
    if not args.no_save:
        print("wrote", save_results("openvino_cpu", {"machine": host, "rows": rows}))


if __name__ == "__main__":
    main()
