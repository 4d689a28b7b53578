"""The INT8 Q/DQ ONNX, made from the real YOLOv8 test model and calibrated on real frames.

The test calibrates on 17 frames to stay fast; ``rtdetect build`` defaults to 500 (a handful of frames
is not enough for production INT8, see rtdetect/capture/sampling.py).
"""
import numpy as np
import onnx
import pytest

from rtdetect.capture.images import read_image
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.inference.onnx_tools.variants import head_node_names, inspect_onnx
from rtdetect.inference.onnx_tools.quantize import write_int8_qdq
from rtdetect.trial_inputs import MediaFrames
from rtdetect.types import Frame

from .helpers import match, video_frames

pytestmark = pytest.mark.slow

MIN_RECALL = 0.9           # fp32 detections (conf > 0.25) found again by INT8 (same class, IoU > 0.5)
MAX_MEAN_SCORE_DROP = 0.05  # mean |score(fp32) - score(int8)| over matched detections


@pytest.fixture(scope="module")
def frames(data_dir):
    video = video_frames(data_dir / "vtest_3s.mp4")
    images = {name: read_image(str(data_dir / name)) for name in ("bus.jpg", "zidane.jpg", "dog.jpg", "person.jpg")}
    calibration = video[::2] + [images["bus.jpg"], images["zidane.jpg"]]      # 15 + 2 frames
    held_out = video[1::6] + [images["dog.jpg"], images["person.jpg"]]       # 5 + 2 frames never calibrated on
    return calibration, held_out


@pytest.fixture(scope="module")
def models(fall_detection_dir, frames, tmp_path_factory):
    fp32 = fall_detection_dir / "best_fp16.onnx"  # float32 inside
    int8 = write_int8_qdq(fp32, tmp_path_factory.mktemp("int8") / "int8.onnx",
                          [MediaFrames().prepare(f, (640, 640), np.dtype(np.float32)) for f in frames[0]])
    return fp32, int8


def test_qdq_nodes_are_inserted_symmetric_and_keep_the_head_float(models):
    fp32, int8 = models
    model = onnx.load(str(int8))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 50 and ops.count("DequantizeLinear") > 100
    init = {i.name: i for i in model.graph.initializer}
    zero_points = [init[n.input[2]] for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                   and len(n.input) > 2 and n.input[2] in init]
    assert zero_points and all(not np.any(onnx.numpy_helper.to_array(z)) for z in zero_points)  # symmetric
    assert {onnx.numpy_helper.to_array(z).dtype for z in zero_points} == {np.dtype(np.int8)}
    producers = {o: n for n in model.graph.node for o in n.output}
    head = head_node_names(onnx.load(str(fp32), load_external_data=False))
    for node in model.graph.node:
        if node.name in head:
            inputs_from = [producers[i].op_type for i in node.input if i in producers]
            assert "DequantizeLinear" not in inputs_from, node.name
    info = inspect_onnx(int8)
    assert info.metadata["rtdetect.precision"] == "int8" and info.metadata["rtdetect.calibration_frames"] == "17"
    assert info.metadata["names"] == "{0: 'Normal', 1: 'Fall'}"


def test_int8_runs_in_onnxruntime_and_keeps_detections_close_to_fp32(models, frames):
    fp32, int8 = models
    config = PostprocessConfig(conf=0.25)
    with OnnxRuntimeEngine(str(fp32)) as e32, OnnxRuntimeEngine(str(int8)) as e8:
        p32, p8 = CpuModel(e32, config, warmup_runs=1), CpuModel(e8, config, warmup_runs=1)
        total, matched, deltas = 0, 0, []
        for i, image in enumerate(frames[1]):
            ref, got = (p.process(Frame(image, i, None, "t")).detections for p in (p32, p8))
            n, delta, _ = match(ref, got)
            total, matched = total + len(ref), matched + n
            deltas.extend(delta.tolist())
    recall = matched / total
    drop = float(np.mean(np.abs(deltas)))
    print(f"INT8 vs fp32 on {len(frames[1])} held-out frames: recall {recall:.3f} ({matched}/{total}), "
          f"mean |score drop| {drop:.4f}, mean signed drop {np.mean(deltas):+.4f}")
    assert total >= 10
    assert recall >= MIN_RECALL and drop <= MAX_MEAN_SCORE_DROP
