"""A batch worker whose engine cannot run the model on one file: that file's entry is ``failed`` with the
engine's one-line reason and no output, and the worker goes on with the next file on the same engine
(OpenVINO's failed request used to leave the worker waiting forever). No Ray needed: the worker is the
actor's plain object."""
import cv2
import pytest

from failing_model import DARK_SCALE, darkened, fail_on_bright
from rtdetect.cluster.inputs import batch_inputs
from rtdetect.cluster.manifest import DONE, FAILED
from rtdetect.cluster.worker import BatchSettings, FileWorker
from tests.cluster.conftest import write_clip


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


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("earlier_output", [False, True])
def test_a_file_that_fails_midway_leaves_no_new_output(failing_onnx, vtest_frames, tmp_path, backend, earlier_output):
    # 5 frames run, then the engine fails: the batch's outputs are complete or absent, so nothing of those 5
    # frames may stay; an output of an earlier run stays as it was.
    if backend == "openvino":
        pytest.importorskip("openvino")
    inputs_dir, out = tmp_path / "in", tmp_path / "out"
    out.mkdir()
    dark = [(frame * DARK_SCALE).astype(frame.dtype) for frame in vtest_frames[:5]]
    write_clip(inputs_dir / "db.mp4", dark + list(vtest_frames[5:10]))
    earlier = b'{"frame":0,"earlier":true}\n'
    if earlier_output:
        (out / "db.jsonl").write_bytes(earlier)
    worker = FileWorker(BatchSettings(model=failing_onnx, backend=backend, precision="fp32", save=True))
    try:
        entry = worker.process(*batch_inputs(str(inputs_dir), str(out)))
    finally:
        worker.close()
    assert entry["status"] == FAILED and entry["error"].startswith(f"{backend} could not run the model: ")
    assert entry["frames"] == 0 and entry["outputs"] == {}
    assert sorted(p.name for p in out.iterdir()) == (["db.jsonl"] if earlier_output else [])  # no video, no partial, no lock
    if earlier_output:
        assert (out / "db.jsonl").read_bytes() == earlier
