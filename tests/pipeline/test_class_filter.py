"""``classes`` on frames that hold several classes: the filtered result is exactly the unfiltered one
restricted to the requested classes (same boxes, scores and order), for every requested class, whatever
order the classes are given in. (bus.jpg: people and a bus; zidane.jpg: people and ties.)"""
import cv2
import numpy as np
import pytest

from rtdetect.inference import create_engine
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.types import Frame

PERSON, BUS, TIE = 0, 5, 27
# (image, classes): one class alone, and several given out of order, one of them absent from the frame
CASES = [("bus.jpg", (BUS,)), ("bus.jpg", (BUS, PERSON)), ("zidane.jpg", (TIE, PERSON)), ("zidane.jpg", (TIE, BUS, PERSON))]


@pytest.fixture(scope="module")
def engine(v5seg_onnx):
    engine = create_engine(str(v5seg_onnx), backend="onnxruntime")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def unfiltered(engine, data_dir):
    """Per image: (frame, detections without a class filter)."""
    pipeline = CpuModel(engine, PostprocessConfig(conf=0.25))
    frames = {name: Frame(cv2.imread(str(data_dir / name)), 0, None, name) for name in ("bus.jpg", "zidane.jpg")}
    return {name: (frame, pipeline.process(frame).detections) for name, frame in frames.items()}


def assert_filtered_is_restriction(filtered, everything, classes):
    keep = np.isin(everything.class_ids, classes)
    np.testing.assert_array_equal(filtered.class_ids, everything.class_ids[keep])
    np.testing.assert_array_equal(filtered.xyxy, everything.xyxy[keep])
    np.testing.assert_array_equal(filtered.scores, everything.scores[keep])


def test_the_frames_hold_several_classes(unfiltered):
    assert {PERSON, BUS} <= set(unfiltered["bus.jpg"][1].class_ids.tolist())
    assert {PERSON, TIE} <= set(unfiltered["zidane.jpg"][1].class_ids.tolist())


@pytest.mark.parametrize("image, classes", CASES)
def test_cpu_filter_equals_unfiltered_restricted(engine, unfiltered, image, classes):
    frame, everything = unfiltered[image]
    filtered = CpuModel(engine, PostprocessConfig(conf=0.25, classes=classes)).process(frame).detections
    assert_filtered_is_restriction(filtered, everything, classes)
    if filtered.masks is not None:
        assert len(filtered.masks) == len(filtered)
