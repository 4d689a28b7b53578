"""INT8 on this CPU: is a Q/DQ model faster than float32 in ONNX Runtime here, and what does it cost?

    /work/venv/bin/python benchmarks/int8_cpu.py [--model best.pt] [--imgsz 480 640] [--calib-frames 200]

Two INT8 recipes, both calibrated (min/max) on frames spread over vtest.avi and letterboxed as at
inference, detection-head tail kept in float (as ``rtdetect.inference.onnx_tools.quantize`` does):
* ``s8s8``: rtdetect's TensorRT recipe (``rtdetect.inference.onnx_tools.quantize.write_int8_qdq``: signed symmetric);
* ``u8s8``: unsigned activations, signed per-channel weights: the combination ONNX Runtime's x86 CPU
  kernels are built for (VNNI or AVX2 u8 x s8 dot products).
Reported: model-only latency against float32 (interleaved, medians), and detection agreement with the
float32 model over the clip's frames (one to one, same class, IoU >= 0.9). This CPU's flags are printed:
without avx512_vnni / avx_vnni the INT8 dot products fall back to AVX2.
Results: benchmarks/results/int8_cpu.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _agree import agreement  # noqa: E402
from _common import FALL_DIR, VTEST, machine, print_table, save_results, stats_ms, time_calls  # noqa: E402

CACHE = Path.home() / ".cache" / "rtdetect" / "bench-int8"


def cpu_flags() -> list[str]:
    text = Path("/proc/cpuinfo").read_text()
    flags = next(line for line in text.splitlines() if line.startswith("flags")).split(":", 1)[1].split()
    return sorted(f for f in flags if "vnni" in f or f.startswith("avx"))


def vtest_tensors(frames: int, imgsz):
    """``frames`` frames spread over vtest.avi, letterboxed to ``imgsz`` as the network's float32 input."""
    import numpy as np

    from rtdetect.trial_inputs import MediaFrames

    clip = MediaFrames(str(VTEST))
    return (clip.prepare(f, imgsz, np.dtype(np.float32)) for f in clip.frames(frames))


def write_u8s8(source: Path, target: Path, imgsz, frames: int) -> Path:
    """ORT static quantization, QDQ, QUInt8 activations, QInt8 per-channel weights, head tail in float."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from rtdetect.inference.onnx_tools.calibration import TensorReader
    from rtdetect.inference.onnx_tools.variants import head_node_names, name_unnamed_nodes

    model = onnx.load(str(source))
    name_unnamed_nodes(model)
    reader = TensorReader(vtest_tensors(frames, imgsz), model.graph.input[0].name)
    with tempfile.TemporaryDirectory() as tmp:
        named = Path(tmp) / "named.onnx"
        onnx.save(model, str(named))
        quantize_static(str(named), str(target), reader, quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Conv", "MatMul"],
                        nodes_to_exclude=sorted(head_node_names(model)), calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"CalibMaxIntermediateOutputs": 16})
    return target


def models(args) -> dict[str, str]:
    from rtdetect.models.zoo import resolve_model
    from rtdetect.inference.onnx_tools.quantize import write_int8_qdq

    fp32 = Path(resolve_model(args.model, imgsz=tuple(args.imgsz)))
    CACHE.mkdir(parents=True, exist_ok=True)
    s8 = CACHE / f"{fp32.stem}-s8s8-{args.calib_frames}.onnx"
    u8 = CACHE / f"{fp32.stem}-u8s8-{args.calib_frames}.onnx"
    if not s8.is_file():
        write_int8_qdq(fp32, s8, vtest_tensors(args.calib_frames, tuple(args.imgsz)))
    if not u8.is_file():
        write_u8s8(fp32, u8, tuple(args.imgsz), args.calib_frames)
    return {"fp32": str(fp32), "int8 s8s8 (TensorRT recipe)": str(s8), "int8 u8s8 (CPU recipe)": str(u8)}


def detections(path: str, frames: int) -> dict:
    """Detections per frame index of the first ``frames`` frames of vtest.avi (sequential process())."""
    from rtdetect.capture import open_source
    from rtdetect.inference import create_engine
    from rtdetect.run import CpuModel, Runner

    out = {}
    with create_engine(path, backend="onnxruntime") as engine, open_source(str(VTEST)) as src:
        pipeline = CpuModel(engine)
        for frame in src:
            if frame.index >= frames:
                break
            det = pipeline.process(frame).detections
            out[frame.index] = (det.xyxy, det.class_ids)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(FALL_DIR / "best.pt"))
    parser.add_argument("--imgsz", type=int, nargs=2, default=[480, 640])
    parser.add_argument("--calib-frames", type=int, default=200)
    parser.add_argument("--frames", type=int, default=100, help="frames for the agreement check")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    from rtdetect.inference import create_engine

    host = machine()
    paths = models(args)
    engines = {name: create_engine(p, backend="onnxruntime") for name, p in paths.items()}
    x = np.random.default_rng(0).random((1, 3, *args.imgsz), dtype=np.float32)
    lat = {name: [] for name in engines}
    for _ in range(args.rounds):  # interleaved rounds: load changes hit every model alike
        for name, engine in engines.items():
            lat[name].append(stats_ms(time_calls(lambda: engine.infer(x), repeat=10, warmup=2))["p50"])
    ref = detections(paths["fp32"], args.frames)
    rows = []
    for name, path in paths.items():
        p50 = statistics.median(lat[name])
        own = detections(path, args.frames) if name != "fp32" else ref
        rows.append({"model": name, "path": path, "latency_p50_ms": p50, "latency_rounds_ms": lat[name],
                     "speedup_vs_fp32": statistics.median(lat["fp32"]) / p50, **agreement(ref, own),
                     "at_iou_0.5": agreement(ref, own, threshold=0.5)})
    print(f"# INT8 on {host['cpu']} x{host['cores']}; vnni/avx flags: {cpu_flags()}; load {host['load_avg']}")
    print_table([[r["model"], round(r["latency_p50_ms"], 1), f"{r['speedup_vs_fp32']:.2f}x", f"{r['agreement_pct']}%",
                  f"{r['recall_pct']}% / {r['precision_pct']}%", f"{r['at_iou_0.5']['agreement_pct']}%"] for r in rows],
                ["model", "model-only p50 ms", "speed-up vs fp32", "agreement with fp32 (IoU >= 0.9)",
                 "recall / precision vs fp32 (IoU >= 0.9)", "agreement (IoU >= 0.5)"])
    host["load_avg_after"] = machine()["load_avg"]
    if not args.no_save:
        print("wrote", save_results("int8_cpu", {"machine": host, "cpu_flags": cpu_flags(), "imgsz": args.imgsz,
                                                 "calib_frames": args.calib_frames, "frames": args.frames, "rows": rows}))


if __name__ == "__main__":
    main()
