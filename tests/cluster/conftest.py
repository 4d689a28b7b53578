"""One local Ray cluster per test session (ray.init takes seconds), and short clips cut from tests/data.

The tests need the [cluster] extra (Ray); without it they skip, and `make test` installs it so CI runs them.
"""
from __future__ import annotations

import os

import cv2
import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """``(ray, address)``: a 2-CPU Ray cluster on 127.0.0.1 that this process is a driver of (to find and
    kill actors) and that ``rtdetect batch --cluster ADDRESS`` subprocesses join."""
    ray = pytest.importorskip("ray", reason="the [cluster] extra (Ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, namespace="rtdetect", log_to_driver=False,
             logging_level="ERROR", _node_ip_address="127.0.0.1")
    try:
        yield ray, ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _frames(path) -> list:
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, image = capture.read()
    while ok:
        frames.append(image)
        ok, image = capture.read()
    capture.release()
    return frames


def write_clip(path, frames, fps: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="session")
def vtest_frames(data_dir) -> list:
    """The 30 frames (768x576) of tests/data/vtest_3s.mp4."""
    return _frames(data_dir / "vtest_3s.mp4")


@pytest.fixture
def archive(tmp_path, vtest_frames):
    """A tree of three 4-frame clips and one corrupt file: ``{key: path}``."""
    root = tmp_path / "archive"
    clips = {"a/one.mp4": vtest_frames[0:4], "a/two.mp4": vtest_frames[4:8], "b/three.mp4": vtest_frames[8:12]}
    paths = {}
    for key, frames in clips.items():
        write_clip(root / key, frames)
        paths[key] = root / key
    (root / "b").mkdir(exist_ok=True)
    (root / "b" / "bad.mp4").write_bytes(os.urandom(4096))
    paths["b/bad.mp4"] = root / "b" / "bad.mp4"
    return root, paths


@pytest.fixture(scope="session")
def bright_frame_failing_detector(small_detector, tmp_path_factory):
    """``small_detector`` with a fault on bright frames: its output gains ``[0.0][index]`` where ``index`` is
    ``floor(1.6 * mean(images))``: 0 for ordinary frames (mean pixel below 0.625: outputs unchanged), 1 for a
    mostly white frame, where ONNX Runtime's Gather fails at inference ("indices element out of data bounds")."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(small_detector)
    graph = model.graph
    output = graph.output[0].name
    for node in graph.node:
        node.output[:] = ["detector_output" if name == output else name for name in node.output]
    graph.initializer.extend([numpy_helper.from_array(np.array([0.0], np.float32), "fault_table"),
                              numpy_helper.from_array(np.array(1.6, np.float32), "fault_scale")])
    graph.node.extend([
        helper.make_node("ReduceMean", [graph.input[0].name], ["fault_mean"], keepdims=0),
        helper.make_node("Mul", ["fault_mean", "fault_scale"], ["fault_scaled"]),
        helper.make_node("Floor", ["fault_scaled"], ["fault_floor"]),
        helper.make_node("Cast", ["fault_floor"], ["fault_index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["fault_table", "fault_index"], ["fault_term"]),
        helper.make_node("Add", ["detector_output", "fault_term"], [output]),
    ])
    path = tmp_path_factory.mktemp("faulty-detector") / "fall-160-fails-on-bright-frames.onnx"
    onnx.save(model, path)
    return path
