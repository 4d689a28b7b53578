"""An engine that fails to run the model mid-run, through the real command and each CPU runtime: one
``rtdetect: error:`` line, exit status 1, no traceback and no hang (OpenVINO's failed asynchronous request
used to leave the run waiting forever), the outputs finalised with every frame processed before the failure."""
import json
from pathlib import Path

import pytest

import failing_model
from failing_model import fail_on_bright

from .cli_helpers import assert_one_line_error, run_cli
from .helpers import leftovers


@pytest.fixture(scope="module")
def failing_onnx(small_detector, tmp_path_factory):
    return fail_on_bright(small_detector, tmp_path_factory.mktemp("failing") / "fail-160.onnx")


@pytest.fixture
def dark_then_bright(data_dir, tmp_path):
    return failing_model.dark_then_bright(data_dir, tmp_path / "images")


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_inference_failure_is_one_line_with_the_frames_before_it_kept(failing_onnx, dark_then_bright, tmp_path,
                                                                      backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("--source", dark_then_bright, "--model", failing_onnx, "--backend", backend,
                     "--precision", "fp32", "--json", out / "det.jsonl", "--save", f"{out}/annotated/",
                     "--no-progress")
    assert_one_line_error(result, f"{backend} could not run the model: ", "eshape")
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in (out / "det.jsonl").read_text().splitlines()]
    assert [Path(r["source"]).name for r in records] == ["1.jpg", "2.jpg"]
    assert sorted(p.name for p in (out / "annotated").iterdir()) == ["1.jpg", "2.jpg"]
    assert leftovers(out) == [] and leftovers(out / "annotated") == []


def test_auto_trial_failure_is_one_line_without_the_runtime_log(failing_onnx, data_dir, tmp_path):
    # A fresh cache makes --backend auto measure its candidates first: every ONNX Runtime session it opens
    # must be as quiet as the pipeline's, or ONNX Runtime prints its own colour-coded error log before ours.
    result = run_cli("--source", data_dir / "bus.jpg", "--model", failing_onnx, "--json", tmp_path / "o.jsonl",
                     "--no-progress", env={"RTDETECT_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(result, "onnxruntime could not run the model: ")
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr
