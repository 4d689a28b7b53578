"""The end-to-end layouts through the command line. YOLO26-seg: its (1, K, 6 + nm) rows carry mask
coefficients, so decode must keep them per row (no NMS) and masks must be built from them.

The model is Ultralytics' yolo26n-seg config with the seeded weights of the Ultralytics goldens (see
test_models_ultralytics_goldens.py), whose end-to-end box branch ends, as Ultralytics initialises it,
in a zero-weight conv with bias 2 (every box 4 cells wide: random weights give inverted boxes, whose
masks are empty). Exported to ONNX and run by ``rtdetect`` on bus.jpg to JSONL in a subprocess.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from model_helpers import letterbox
from rtdetect.models.export import export_onnx
from rtdetect.rle import decode_mask
from test_models_ultralytics_goldens import GOLDEN, seeded_model

pytestmark = pytest.mark.no_gpu


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtdetect.cli", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


def test_yolo26_seg_end_to_end_rows_become_detections_with_masks(data_dir, tmp_path):
    with np.load(data_dir / GOLDEN, allow_pickle=False) as archive:
        golden = {key: archive[key] for key in archive.files}
    model = seeded_model(golden, "yolo26n-seg")
    for branch in model.head.one2one_cv2:
        torch.nn.init.zeros_(branch[-1].weight)
        torch.nn.init.constant_(branch[-1].bias, 2.0)
    onnx_path = export_onnx(model, tmp_path / "yolo26n-seg.onnx", imgsz=(160, 160))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rows, protos = session.run(None, {"images": letterbox(cv2.imread(str(data_dir / "bus.jpg")), 160)[0]})
    assert rows.shape == (1, 300, 38) and protos.shape == (1, 32, 40, 40)
    expected = rows[0][rows[0, :, 4] > 0.25]

    out = tmp_path / "bus.jsonl"
    ran = run_cli("--source", str(data_dir / "bus.jpg"), "--model", str(onnx_path), "--json", str(out),
                  "--backend", "onnxruntime")
    assert ran.returncode == 0, ran.stderr
    detections = json.loads(out.read_text().splitlines()[0])["detections"]
    # No NMS on end-to-end rows: every row above the threshold is a detection, in the model's order.
    assert len(detections) == len(expected) > 0
    np.testing.assert_allclose([d["score"] for d in detections], expected[:, 4], atol=1e-5)
    assert [d["class_id"] for d in detections] == expected[:, 5].astype(int).tolist()
    painted = 0
    for d in detections:
        mask = decode_mask(d["mask"])
        assert mask.shape == (1080, 810)
        x1, y1, x2, y2 = d["box"]
        outside = mask.copy()
        outside[max(int(y1), 0):int(np.ceil(y2)) + 1, max(int(x1), 0):int(np.ceil(x2)) + 1] = 0
        assert not outside.any()
        painted += int(mask.any())
    assert painted > len(detections) // 2


def test_export_one_to_many_of_a_model_without_end_to_end_head_is_one_error_line(tmp_path):
    from rtdetect.models import build_model
    from rtdetect.models.loader import save_model

    checkpoint = save_model(build_model("yolov8n", nc=2), tmp_path / "v8.pt")
    done = run_cli("export", str(checkpoint), "-o", str(tmp_path / "v8.onnx"), "--imgsz", "64", "--one-to-many")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("rtdetect: error: ") and "no end-to-end head" in lines[0]
    assert not (tmp_path / "v8.onnx").exists()
