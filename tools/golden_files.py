"""What the golden-file scripts share (tools/*_goldens.py): the test images letterboxed as the model tests
do, the digest that ties a golden file to its input, and writing the .npz atomically."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "models")]  # this checkout, not an installed rtdetect

from model_helpers import letterbox  # noqa: E402

from rtdetect.atomic import atomic_path  # noqa: E402


def letterboxed(name: str, imgsz: int = 640) -> np.ndarray:
    """tests/data/``name`` letterboxed to (1, 3, imgsz, imgsz) float32 by the model tests' own helper."""
    import cv2

    return letterbox(cv2.imread(str(ROOT / "tests" / "data" / name)), imgsz)[0]


def input_digest(x: np.ndarray) -> str:
    """SHA-256 of ``x`` as contiguous float32 bytes (the tests check their input against it)."""
    return hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()


def write_goldens(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as a compressed .npz at ``path``, written atomically; says how big it is."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
