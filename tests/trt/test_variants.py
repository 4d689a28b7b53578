"""ONNX facts, the detection-head node set and the fp16 variant, on the real YOLOv8 test model."""
import random

import numpy as np
import onnx
import pytest

from rtdetect.errors import ModelError
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.inference.onnx_tools.variants import (head_node_names, inspect_onnx, profile_shapes, topological_sort,
                                        write_fp16_variant)
from rtdetect.types import Frame

from .helpers import match, video_frames

FP16_SCORE_TOL = 0.01  # |score(fp32) - score(fp16)| per matched detection
FP16_BOX_TOL = 2.0     # px, per box corner, in 768x576 frames


@pytest.fixture(scope="module")
def yolov8(fall_detection_dir):
    return fall_detection_dir / "best_fp16.onnx"  # despite the name: float32 weights, (1, 6, 8400) output


def test_inspect_reads_the_input_and_metadata(yolov8, tiny_dynamic_onnx):
    info = inspect_onnx(yolov8)
    assert (info.input_name, info.input_shape, info.input_dtype) == ("images", (1, 3, 640, 640), "float32")
    assert info.metadata["names"] == "{0: 'Normal', 1: 'Fall'}"
    assert inspect_onnx(tiny_dynamic_onnx).input_shape == ("batch", 3, 32, 32)


def test_not_an_onnx_file_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError):
        inspect_onnx(bad)


def test_profile_shapes(yolov8, tiny_dynamic_onnx):
    assert profile_shapes(inspect_onnx(yolov8), (640, 640), 1) == ((1, 3, 640, 640),) * 3
    dynamic = profile_shapes(inspect_onnx(tiny_dynamic_onnx), (32, 32), 8)
    assert dynamic == ((1, 3, 32, 32), (8, 3, 32, 32), (8, 3, 32, 32))
    with pytest.raises(ModelError, match="--batch must be >= 1"):
        profile_shapes(inspect_onnx(tiny_dynamic_onnx), (32, 32), 0)


def test_head_is_the_prediction_convs_dfl_and_decode(yolov8):
    model = onnx.load(str(yolov8), load_external_data=False)
    head = head_node_names(model)
    by_name = {n.name: n for n in model.graph.node}
    convs = sorted(n for n in head if by_name[n].op_type == "Conv")
    assert convs == sorted([f"/model.22/cv{k}.{i}/cv{k}.{i}.2/Conv" for k in (2, 3) for i in range(3)]
                           + ["/model.22/dfl/conv/Conv"])
    assert "/model.22/Concat_5" in head and "/model.22/dfl/Softmax" in head
    assert not any(name.startswith(("/model.0/", "/model.21/")) for name in head)  # backbone and neck stay out
    assert len(head) < len(model.graph.node) // 5


def test_topological_sort_restores_order(tiny_onnx):
    model = onnx.load(str(tiny_onnx))
    nodes = list(model.graph.node)
    random.Random(0).shuffle(nodes)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))
    topological_sort(model.graph)
    onnx.checker.check_model(model)
    assert [n.name for n in model.graph.node] == ["conv", "reshape"]


def test_fp16_variant_runs_and_stays_close_to_fp32(yolov8, tmp_path, data_dir):
    out = write_fp16_variant(yolov8, tmp_path / "fp16.onnx")
    model = onnx.load(str(out))
    init = {i.name: i.data_type for i in model.graph.initializer}
    by_name = {n.name: n for n in model.graph.node}
    assert init[by_name["/model.0/conv/Conv"].input[1]] == onnx.TensorProto.FLOAT16
    assert init[by_name["/model.22/cv3.0/cv3.0.2/Conv"].input[1]] == onnx.TensorProto.FLOAT  # head kept float32
    info = inspect_onnx(out)
    assert info.input_dtype == "float32" and info.metadata["rtdetect.precision"] == "fp16"
    assert info.metadata["names"] == "{0: 'Normal', 1: 'Fall'}"
    config = PostprocessConfig(conf=0.25)
    with OnnxRuntimeEngine(str(yolov8)) as e32, OnnxRuntimeEngine(str(out)) as e16:
        p32, p16 = CpuModel(e32, config, warmup_runs=1), CpuModel(e16, config, warmup_runs=1)
        total = matched = 0
        worst_score = worst_box = 0.0
        for i, image in enumerate(video_frames(data_dir / "vtest_3s.mp4")[::10]):
            ref, got = (p.process(Frame(image, i, None, "t")).detections for p in (p32, p16))
            n, deltas, box = match(ref, got)
            total, matched = total + len(ref), matched + n
            worst_score = max(worst_score, float(np.abs(deltas).max(initial=0)))
            worst_box = max(worst_box, box)
    print(f"fp16 vs fp32: {matched}/{total} matched, max score diff {worst_score:.4f}, max box diff {worst_box:.2f} px")
    assert total > 0 and matched == total
    assert worst_score <= FP16_SCORE_TOL and worst_box <= FP16_BOX_TOL
