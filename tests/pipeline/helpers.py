"""Small helpers shared by the pipeline tests."""
import time

import cv2
import numpy as np


def decoded_frame_count(path) -> int:
    """How many frames OpenCV can actually decode from the video at ``path`` (not what the header says)."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def leftovers(folder) -> list[str]:
    """Hidden files (partials, lock files) in ``folder``: none may stay after a run, whatever happened."""
    import os

    return sorted(name for name in os.listdir(folder) if name.startswith("."))
def make_tiny_detector(path, *, batch=1, hw=(32, 32), weight_seed=0, metadata=None):
    """A (batch, 3, H, W) → (batch, 6, N) float32 ONNX: Conv → Reshape, with ``metadata_props``.
    ``batch=None`` makes the batch dimension symbolic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = hw
    rng = np.random.default_rng(weight_seed)
    weight = numpy_helper.from_array(rng.standard_normal((6, 3, 1, 1)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([0, 6, -1], dtype=np.int64), "shape")
    nodes = [helper.make_node("Conv", ["images", "w"], ["feat"], name="conv"),
             helper.make_node("Reshape", ["feat", "shape"], ["output0"], name="reshape")]
    n = "batch" if batch is None else batch
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [n, 3, h, w])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [n, 6, h * w])],
                              initializer=[weight, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (metadata or {"rtdetect.names": '["a", "b"]', "rtdetect.layout": "v8"}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def wait_for_output(folder, proc, timeout=120.0):
    """Until the run has written something into ``folder`` (its first processed frame). Lock files do not
    count: a run writes its PID into them before any frame arrives."""
    deadline = time.monotonic() + timeout
    while not any(p.stat().st_size > 0 and not p.name.endswith(".lock") for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no frame was processed"
        time.sleep(0.05)
