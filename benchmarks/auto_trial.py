"""``--backend auto``'s trial on this machine: every CPU candidate's speed and agreement with ONNX Runtime
fp32, exactly as the first run of a model measures them (``rtdetect.inference.selection``).

    /work/main/.venv/bin/python benchmarks/auto_trial.py [--model yolov5s-seg best.pt ...] [--rounds 3]

The trial runs directly (no choice cache is read or written); int8 models come from the normal cache.
``--rounds`` repeats the timing (the trial itself uses 2). Results: benchmarks/results/auto_trial.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FALL_DIR, machine, print_table, save_results  # noqa: E402


def trial(model: str, rounds: int) -> dict:
    from rtdetect.api import resolve_model_path
    from rtdetect.inference import open_cpu_engine
    from rtdetect.inference.selection import candidates, fastest_accepted, run_trial
    from rtdetect.trial_inputs import MediaFrames

    path = resolve_model_path(model, (640, 640))
    demo = MediaFrames()
    images = list(demo.frames(6))
    start = time.perf_counter()
    results = run_trial(candidates(), lambda c: open_cpu_engine(path, backend=c.backend, precision=c.precision),
                        images, demo, rounds=rounds)
    return {"model": model, "onnx": path, "seconds": round(time.perf_counter() - start, 1),
            "choice": fastest_accepted(results).candidate.label, "results": [r.to_dict() for r in results]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="*", default=["yolov5s-seg", str(FALL_DIR / "best.pt")])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    from rtdetect.inference.openvino import cpu_capabilities

    host = machine()
    host["openvino_capabilities"] = list(cpu_capabilities())
    rows = [trial(model, args.rounds) for model in args.model]
    print(f"# --backend auto trial, {args.rounds} rounds; load {host['load_avg']}; OpenVINO capabilities {host['openvino_capabilities']}")
    table = []
    for row in rows:
        for r in row["results"]:
            agree = r["agreement"] or {}
            f1 = None if not agree.get("reference", 0) + agree.get("other", 0) else \
                2 * agree["matched"] / (agree["reference"] + agree["other"])
            table.append([Path(row["model"]).name, r["candidate"], r["status"] if r["status"] != "ok" else "ok",
                          "–" if r["ms_per_frame"] is None else round(r["ms_per_frame"], 1),
                          " / ".join(f"{v:.0f}" for v in r["rounds_ms"]),
                          "–" if f1 is None else f"{f1:.3f} ({agree['matched']}/{agree['reference']}/{agree['other']})",
                          "yes" if r["accepted"] else "no", "**chosen**" if r["candidate"] == row["choice"] else ""])
    print_table(table, ["model", "candidate", "status", "best round ms/frame", "rounds ms/frame",
                        "F1 vs ORT fp32 (matched/ref/own)", "guard", "choice"])
    host["load_avg_after"] = machine()["load_avg"]
    if not args.no_save:
        print("wrote", save_results("auto_trial", {"machine": host, "rounds": args.rounds, "rows": rows}))


if __name__ == "__main__":
    main()
