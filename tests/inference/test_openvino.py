"""The OpenVINO backend on the real models: the same outputs as ONNX Runtime fp32, two requests in flight
without reordering frames, and precisions refused where this CPU cannot compute them."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from rtdetect.agreement import agreement
from rtdetect.errors import ModelError
from rtdetect.inference import create_engine
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.inference.openvino import OpenVinoEngine, cpu_capabilities
from rtdetect.run import CpuModel, Runner
from rtdetect.preprocess import Preprocessor
from rtdetect.capture import open_source

pytest.importorskip("openvino")


@pytest.fixture(scope="module", params=["fall", "v5seg"])
def model_path(request, fall_detection_dir):
    """The Ultralytics-exported YOLOv8 (foreign ONNX) and rtdetect's own YOLOv5s-seg export."""
    if request.param == "fall":
        return str(fall_detection_dir / "best_fp16.onnx")
    return str(request.getfixturevalue("v5seg_onnx"))


def _tensors(engine, data_dir, names=("bus.jpg", "zidane.jpg")):
    prepare = Preprocessor(engine.input_hw, dtype=engine.input_dtype)
    return [prepare(cv2.imread(str(data_dir / name))) for name in names]


def test_outputs_equal_onnxruntime_fp32(model_path, data_dir):
    ort = OnnxRuntimeEngine(model_path)
    with OpenVinoEngine(model_path, precision="fp32") as ov:
        assert (ov.input_hw, ov.input_dtype, ov.metadata) == (ort.input_hw, ort.input_dtype, ort.metadata)
        prepared = _tensors(ov, data_dir)
        futures = [ov.submit(t) for t, _ in prepared]  # both requests in flight at once
        for (tensor, _), future in zip(prepared, futures):
            expected, synchronous, asynchronous = ort.infer(tensor), ov.infer(tensor), future.result()
            assert [o.shape for o in synchronous] == [o.shape for o in expected]
            for want, got, got_async in zip(expected, synchronous, asynchronous):
                assert got.dtype == np.float32
                # Different kernels, same float32 maths: well within a hundredth of a pixel / score unit
                # relative to the output's range (boxes go up to 640).
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * max(1.0, np.abs(want).max()) + 2e-3)
                np.testing.assert_array_equal(got_async, got)


def test_pipeline_keeps_order_with_two_requests_in_flight(fall_detection_dir, data_dir):
    path = str(fall_detection_dir / "best_fp16.onnx")
    with OpenVinoEngine(path) as engine:
        pipeline = CpuModel(engine)
        assert [(s.name, s.depth) for s in pipeline.stages()][1] == ("inference", 2)
        seen = []
        with open_source(str(data_dir / "vtest_3s.mp4")) as source:
            Runner(pipeline).run(source, max_frames=8, on_frame=seen.append)
        assert [item.frame.index for item in seen] == list(range(8))
        sequential = [pipeline.process(item.frame).detections for item in seen]
        overlapped = [item.detections for item in seen]
        assert sum(len(d) for d in sequential) > 8  # people are in view
        result = agreement(sequential, overlapped, threshold=0.999)
        assert result.matched == result.reference == result.other


def test_precisions_this_cpu_lacks_are_refused(fall_detection_dir):
    if "BF16" in cpu_capabilities():
        pytest.skip("this CPU computes bf16; the refusal is for CPUs without it")
    with pytest.raises(ModelError, match="bf16 needs a CPU .* reports FP32"):
        OpenVinoEngine(str(fall_detection_dir / "best_fp16.onnx"), precision="bf16")
    with pytest.raises(ModelError, match="no CPU engine computes bf16"):
        create_engine(str(fall_detection_dir / "best_fp16.onnx"), precision="bf16")


def test_not_a_detector_is_a_model_error(tmp_path):
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelError, match="cannot load ONNX model"):
        OpenVinoEngine(str(garbage))
    with pytest.raises(ModelError, match="not found"):
        OpenVinoEngine(str(tmp_path / "missing.onnx"))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rtdetect.cli", "--no-progress", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_cli_openvino_matches_onnxruntime_and_refuses_what_the_cpu_lacks(fall_detection_dir, data_dir, tmp_path):
    model = fall_detection_dir / "best_fp16.onnx"
    runs = {}
    for backend in ("onnxruntime", "openvino"):
        out = tmp_path / f"{backend}.jsonl"
        result = _cli("--source", data_dir / "vtest_3s.mp4", "--model", model, "--backend", backend,
                      "--precision", "fp32", "--max-frames", 3, "--json", out)
        assert result.returncode == 0, result.stderr
        runs[backend] = [json.loads(line)["detections"] for line in out.read_text().splitlines()]
    assert [len(d) for d in runs["openvino"]] == [len(d) for d in runs["onnxruntime"]] and runs["openvino"][0]
    for ours, theirs in zip(runs["openvino"], runs["onnxruntime"]):
        for a, b in zip(ours, theirs):
            assert a["class_id"] == b["class_id"] and np.allclose(a["box"], b["box"], atol=0.5)
    if "BF16" not in cpu_capabilities():
        result = _cli("--source", data_dir / "bus.jpg", "--model", model, "--backend", "openvino", "--precision", "bf16")
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith("rtdetect: error: --backend openvino: bf16 needs a CPU")


def test_truncated_model_error_says_what_is_wrong(fall_detection_dir, data_dir, tmp_path):
    """OpenVINO's message starts with "Exception from <source file>:<line>:" lines; the one line the user
    sees must carry what went wrong, not that location."""
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((fall_detection_dir / "best_fp16.onnx").read_bytes()[:100_000])
    result = _cli("--source", data_dir / "bus.jpg", "--model", truncated, "--backend", "openvino", "--precision", "fp32",
                  "--json", tmp_path / "out.jsonl")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"rtdetect: error: cannot load ONNX model {truncated}: ") and "parsed" in lines[0], lines[0]
    assert "Exception from" not in lines[0]


def test_unwritable_home_prints_no_telemetry_warning(fall_detection_dir, data_dir, tmp_path):
    """OpenVINO's telemetry tries to write under $HOME when openvino is imported and logs a warning when it
    cannot. /proc is a folder in which no one, root included, can create a subfolder."""
    import os

    home = tmp_path / "home"
    home.mkdir(mode=0o555)
    unwritable = "/proc" if os.geteuid() == 0 else str(home)
    out = tmp_path / "out.jsonl"
    result = subprocess.run([sys.executable, "-m", "rtdetect.cli", "--no-progress", "--source", data_dir / "bus.jpg",
                             "--model", fall_detection_dir / "best_fp16.onnx", "--backend", "openvino",
                             "--precision", "fp32", "--json", out],
                            capture_output=True, text=True, timeout=600,
                            env={**unattended_env_removed(), "HOME": unwritable,
                                 "RTDETECT_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "telemetry" not in result.stderr and "WARNING" not in result.stderr, result.stderr
    assert json.loads(out.read_text())["detections"]


def unattended_env_removed() -> dict:
    """This environment without the variables by which OpenVINO's telemetry recognises an unattended job
    (CI sets CI=true): as a user's shell is."""
    import os

    return {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}


def test_openvino_telemetry_is_declined_for_our_process(fall_detection_dir, data_dir, tmp_path):
    """OpenVINO's telemetry, started by ``import openvino`` in a user's shell, sends each event through a
    child forked from the process; in rtdetect's threaded runs such a child deadlocked and the run never
    exited. Declined, it never starts: no client id or stats file appears in the (writable) home folder,
    and the user's own environment comes back as it was (no CI variable left behind for child processes)."""
    home = tmp_path / "home"
    home.mkdir()
    script = ("import os, rtdetect.inference.openvino as ov; ov.import_openvino(); "
              "print('CI' in os.environ)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                            env={**unattended_env_removed(), "HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert not (home / "intel").exists(), sorted(p.name for p in (home / "intel").iterdir())
