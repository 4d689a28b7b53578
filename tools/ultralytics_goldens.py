"""Regenerate tests/data/ultralytics_goldens.npz: what Ultralytics 8.4 itself outputs for every family
rtdetect imports from it (YOLOv5u, v8, v9, v10, 11, 12, 26; -seg where Ultralytics has it).

For each model in MODELS this script, in Ultralytics' own venv (``--peer-python``; Ultralytics is never
a dependency of rtdetect):

1. builds the model from Ultralytics' own config (``YOLO("yolo26n-seg.yaml")``), fills every floating
   state-dict tensor with ``model_helpers.seeded_tensor`` (seeded, float16-exact, randomised BatchNorm
   statistics), saves it with Ultralytics' own ``save()``;
2. runs Ultralytics' float32 eval forward (export mode) on bus.jpg letterboxed to 160x160: the
   one-to-many output, and for end-to-end heads also the one-to-one top-K output.

Then, with the project's Python, it checks rtdetect on that very checkpoint: ``rtdetect export`` (the
real command; ``--one-to-many`` for the other form of end-to-end heads), ONNX Runtime,
compared with Ultralytics' outputs (see ``compare_*`` in tests/models/test_models_ultralytics_goldens.py),
and refuses to write goldens that rtdetect does not match. The goldens keep, per model, the config
(JSON), the state-dict keys and shapes, and a compact sample of the outputs, so that the test rebuilds
the same weights from the config without Ultralytics.

    python tools/ultralytics_goldens.py [--peer-python /work/venv-peers/bin/python]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "ultralytics_goldens.npz"
IMAGE, IMGSZ = "bus.jpg", 160
# Ultralytics config name -> our label; the smallest size of each family (v9-seg exists only as c/e).
MODELS = ("yolov5nu", "yolov8n", "yolov8n-seg", "yolov9t", "yolov9c-seg", "yolov10n", "yolo11n",
          "yolo11n-seg", "yolo12n", "yolo12n-seg", "yolo26n", "yolo26n-seg")
# Other sizes (multipliers, YOLO12's residual A2C2f, YOLOv9-E's CBLinear/CBFuse): checked here the same
# way, but only their configs and state-dict layouts are stored (their outputs would be too large).
STRUCTURES = ("yolov9s", "yolov9m", "yolov9e", "yolo12l", "yolo26m-seg")
TOP_ANCHORS, RANDOM_ANCHORS, PROTO_STEP, E2E_ROWS = 16, 16, 8, 64

sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "models")]  # this checkout, not an installed rtdetect
from model_helpers import is_seeded_key, seeded_tensor  # noqa: E402


def _fill_seeded(net) -> None:
    import torch

    state = net.state_dict()
    filled = {k: torch.from_numpy(seeded_tensor(k, tuple(v.shape))) if is_seeded_key(k, v.is_floating_point()) else v
              for k, v in state.items()}
    net.load_state_dict(filled, strict=True)


def _forward(net, x, end2end: bool) -> dict[str, np.ndarray]:
    import torch

    head = net.model[-1]
    head.export, head.end2end = True, end2end
    with torch.no_grad():
        out = net(x)
    if isinstance(out, tuple):
        return {"rows": out[0].numpy(), "protos": out[1].numpy()}
    return {"rows": out.numpy()}


def run_peer(work: Path) -> None:
    """In Ultralytics' venv: build, seed, save() and run every model (see the module docstring)."""
    import torch
    import ultralytics
    from ultralytics import YOLO

    x = torch.from_numpy(np.load(work / "input.npy"))
    for name in MODELS + STRUCTURES:
        yolo = YOLO(f"{name}.yaml")
        net = yolo.model.float().eval()
        _fill_seeded(net)
        yolo.save(str(work / f"{name}.pt"))
        outputs = {f"o2m/{k}": v for k, v in _forward(net, x, False).items()}
        if getattr(net.model[-1], "one2one_cv2", None) is not None:
            outputs.update({f"e2e/{k}": v for k, v in _forward(net, x, True).items()})
        state = net.state_dict()
        keys = json.dumps([[k, list(v.shape)] for k, v in state.items()])
        np.savez(work / f"{name}.out.npz", config=np.array(json.dumps(net.yaml)), keys=np.array(keys),
                 **outputs)
    (work / "provenance.json").write_text(json.dumps({
        "ultralytics": ultralytics.__version__, "torch": torch.__version__, "dtype": "float32",
        "image": IMAGE, "imgsz": IMGSZ, "seed": 0}))


def _export_and_run(checkpoint: Path, work: Path, one_to_many: bool, x: np.ndarray) -> list[np.ndarray]:
    """rtdetect on Ultralytics' checkpoint: ``rtdetect export`` (``--one-to-many``), run by ONNX Runtime."""
    import onnxruntime as ort

    onnx_path = work / f"{checkpoint.stem}-{'o2m' if one_to_many else 'default'}.onnx"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "rtdetect.cli", "export", str(checkpoint), "-o", str(onnx_path),
                    "--imgsz", str(IMGSZ), *(["--one-to-many"] if one_to_many else [])],
                   check=True, env=env, cwd=str(ROOT))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": x})


def sample(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The stored part of one model's outputs (see tests/models/test_models_ultralytics_goldens.py)."""
    kept: dict[str, np.ndarray] = {}
    if "o2m/rows" in outputs:
        rows = outputs["o2m/rows"][0].T  # (A, 4 + nc + nm)
        nc_end = rows.shape[1] - (outputs["o2m/protos"].shape[1] if "o2m/protos" in outputs else 0)
        top = np.argsort(-rows[:, 4:nc_end].max(1), kind="stable")[:TOP_ANCHORS]
        rest = np.setdiff1d(np.arange(len(rows)), top)
        index = np.sort(np.concatenate([top, np.random.default_rng(0).choice(rest, RANDOM_ANCHORS, replace=False)]))
        kept.update({"o2m/index": index, "o2m/rows": rows[index], "o2m/column_mean": rows.mean(0, dtype=np.float64),
                     "o2m/column_mean_abs": np.abs(rows).mean(0, dtype=np.float64),
                     "o2m/shape": np.array(outputs["o2m/rows"].shape)})
    if "e2e/rows" in outputs:
        kept["e2e/rows"] = outputs["e2e/rows"][0, :E2E_ROWS]
        kept["e2e/shape"] = np.array(outputs["e2e/rows"].shape)
    for form in ("o2m", "e2e"):
        if f"{form}/protos" in outputs:
            protos = outputs[f"{form}/protos"]
            kept[f"{form}/protos"] = protos[0, :, ::PROTO_STEP, ::PROTO_STEP]
            kept[f"{form}/protos_shape"] = np.array(protos.shape)
    return kept


def check_model(name: str, ref: dict[str, np.ndarray], checkpoint: Path, work: Path, x: np.ndarray) -> None:
    """rtdetect's exports of Ultralytics' checkpoint against Ultralytics' outputs, in full and with
    the test's own criteria on the stored sample (raises on any mismatch)."""
    from test_models_ultralytics_goldens import compare_e2e, compare_one_to_many

    kept = sample(ref)
    default = _export_and_run(checkpoint, work, False, x)
    if "e2e/rows" in ref:
        compare_e2e(default[0][0], ref["e2e/rows"][0], len(ref["e2e/rows"][0]))
        compare_e2e(default[0][0], kept["e2e/rows"], len(kept["e2e/rows"]))
        if "e2e/protos" in ref:
            np.testing.assert_allclose(default[1], ref["e2e/protos"], rtol=1e-4, atol=1e-4, err_msg=name)
        o2m = _export_and_run(checkpoint, work, True, x)
    else:
        o2m = default
    np.testing.assert_allclose(o2m[0], ref["o2m/rows"], rtol=1e-4, atol=1e-4, err_msg=f"{name} one-to-many")
    compare_one_to_many(o2m[0][0].T, kept)
    if "o2m/protos" in ref:
        np.testing.assert_allclose(o2m[1], ref["o2m/protos"], rtol=1e-4, atol=1e-4, err_msg=f"{name} protos")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default="/work/venv-peers/bin/python")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    parser.add_argument("--run-peer", type=Path, help=argparse.SUPPRESS)  # Ultralytics' side
    args = parser.parse_args(argv)
    if args.run_peer:
        run_peer(args.run_peer)
        return 0
    from golden_files import input_digest, letterboxed, write_goldens

    x = letterboxed(IMAGE, IMGSZ)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.save(work / "input.npy", x)
        env = dict(os.environ, YOLO_OFFLINE="1", YOLO_VERBOSE="false", YOLO_CONFIG_DIR=str(work / "cfg"))
        subprocess.run([args.peer_python, __file__, "--run-peer", str(work)], check=True, env=env)
        arrays = {"provenance": np.array((work / "provenance.json").read_text()),
                  "input_sha256": np.array(input_digest(x)), "models": np.array(json.dumps(MODELS)),
                  "structures": np.array(json.dumps(STRUCTURES))}
        for name in MODELS + STRUCTURES:
            with np.load(work / f"{name}.out.npz") as archive:
                ref = {k: archive[k] for k in archive.files}
            check_model(name, ref, work / f"{name}.pt", work, x)
            print(f"{name}: rtdetect export matches Ultralytics")
            arrays[f"{name}/config"], arrays[f"{name}/keys"] = ref.pop("config"), ref.pop("keys")
            if name in MODELS:
                arrays.update({f"{name}/{k}": v for k, v in sample(ref).items()})
    write_goldens(args.out, arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
