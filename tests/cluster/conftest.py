"""Short clips cut from tests/data (the local Ray cluster, ``ray_cluster``, is in tests/conftest.py: the
paths' parity test uses it too).

The tests need the [cluster] extra (Ray); without it they skip, and `make test` installs it so CI runs them.
"""
from __future__ import annotations

import os

import cv2
import pytest


def write_clip(path, frames, fps: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()


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
