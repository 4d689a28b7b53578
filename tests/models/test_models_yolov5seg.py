"""The default model, official YOLOv5s-seg: real detections and masks, and ONNX parity."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from model_helpers import decode_v5, letterbox, mask_density
from rtdetect.models import read_onnx_metadata
from rtdetect.models.coco import COCO80_NAMES

PERSON, BUS, TIE = 0, 5, 27


@pytest.fixture(scope="module")
def images(data_dir):
    return {n: letterbox(cv2.imread(str(data_dir / n)))[0] for n in ("bus.jpg", "zidane.jpg")}


@pytest.fixture(scope="module")
def torch_outputs(v5seg_model, images):
    """Our torch forward per image: (rows (1, 25200, 117), protos (1, 32, 160, 160)) as NumPy."""
    with torch.no_grad():
        return {n: tuple(t.numpy() for t in v5seg_model(torch.from_numpy(x))) for n, x in images.items()}


def detect(outputs):
    rows, protos = outputs
    return decode_v5(rows[0], protos[0])


def assert_masks_cover_their_boxes(found):
    for box, mask in zip(found.boxes, found.masks):
        coverage, outside = mask_density(mask, box)
        assert 0.25 <= coverage <= 0.95, (box, coverage)  # a shape, not empty, not the whole box
        assert coverage >= 4 * outside, (box, coverage, outside)  # concentrated on the object


def test_bus_image_finds_the_bus_and_four_people(torch_outputs):
    found = detect(torch_outputs["bus.jpg"])
    confident = found.scores > 0.5
    classes = found.classes[confident].tolist()
    assert classes.count(BUS) == 1 and classes.count(PERSON) == 4, classes
    bus = found.boxes[confident][np.array(classes) == BUS][0]
    assert (bus[2] - bus[0]) > 400 and (bus[3] - bus[1]) > 250  # the bus fills the frame width
    assert_masks_cover_their_boxes(found)


def test_zidane_image_finds_two_people_and_the_tie(torch_outputs):
    found = detect(torch_outputs["zidane.jpg"])
    classes = found.classes[found.scores > 0.5].tolist()
    assert classes.count(PERSON) == 2 and classes.count(TIE) >= 1, classes
    assert_masks_cover_their_boxes(found)


def test_default_onnx_has_the_documented_shapes_and_metadata(v5seg_onnx):
    import onnxruntime as ort

    session = ort.InferenceSession(str(v5seg_onnx), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert session.get_inputs()[0].shape == [1, 3, 640, 640]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [
        ("output0", [1, 25200, 117]), ("output1", [1, 32, 160, 160])]
    meta = read_onnx_metadata(v5seg_onnx)
    assert meta["rtdetect.family"] == "yolov5" and meta["rtdetect.task"] == "segment"
    assert meta["rtdetect.layout"] == "v5" and meta["rtdetect.names"] == list(COCO80_NAMES)
    assert (meta["rtdetect.num_classes"], meta["rtdetect.num_masks"], meta["rtdetect.stride"]) == (80, 32, 32)
    assert meta["rtdetect.imgsz"] == [640, 640] and meta["rtdetect.dynamic"] is False


@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_exported_onnx_reproduces_the_torch_forward(torch_outputs, v5seg_onnx, images, image):
    """1e-4 on scores, mask coefficients and protos; box xywh (pixels, up to 640) within 1e-4 of
    the input size: float32 rounding alone moves them ~1e-3 px (torch vs float64 as much)."""
    import onnxruntime as ort

    x = images[image]
    session = ort.InferenceSession(str(v5seg_onnx), providers=["CPUExecutionProvider"])
    rows_onnx, protos_onnx = session.run(None, {"images": x})
    rows, protos = torch_outputs[image]
    assert np.abs(rows_onnx[..., 4:] - rows[..., 4:]).max() <= 1e-4
    assert np.abs(protos_onnx - protos).max() <= 1e-4
    assert np.abs(rows_onnx[..., :4] - rows[..., :4]).max() / 640 <= 1e-4
