"""A batch worker whose engine cannot run the model on one file: that file's entry is ``failed`` with the
engine's one-line reason and no output, and the worker goes on with the next file on the same engine
(OpenVINO's failed request used to leave the worker waiting forever). No Ray needed: the worker is the
actor's plain object."""
import cv2
import pytest

from failing_model import darkened, fail_on_bright
from rtdetect.cluster.inputs import batch_inputs
from rtdetect.cluster.manifest import DONE, FAILED
from rtdetect.cluster.worker import BatchSettings, FileWorker


@pytest.fixture(scope="module")
def failing_onnx(small_detector, tmp_path_factory):
    return str(fail_on_bright(small_detector, tmp_path_factory.mktemp("failing") / "fail-160.onnx"))


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_a_file_the_engine_cannot_run_fails_alone(failing_onnx, data_dir, tmp_path, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    inputs_dir, out = tmp_path / "in", tmp_path / "out"
    inputs_dir.mkdir()
    out.mkdir()
    cv2.imwrite(str(inputs_dir / "a-bright.jpg"), cv2.imread(str(data_dir / "bus.jpg")))
    darkened(data_dir / "zidane.jpg", inputs_dir / "b-dark.jpg")
    worker = FileWorker(BatchSettings(model=failing_onnx, backend=backend, precision="fp32"))
    try:
        bright, dark = batch_inputs(str(inputs_dir), str(out))
        failed, done = worker.process(bright), worker.process(dark)
    finally:
        worker.close()
    assert failed["status"] == FAILED and failed["error"].startswith(f"{backend} could not run the model: ")
    assert "\n" not in failed["error"] and failed["outputs"] == {}
    assert done["status"] == DONE and done["frames"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["b-dark.jsonl"]  # nothing of the failed file, no partial
