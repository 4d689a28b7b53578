"""The command line as a user meets it: one-line errors with a non-zero exit, and nothing half-written."""
import json
import os

import numpy as np
import pytest

from rtdetect.cli import main

from .cli_helpers import assert_one_line_error, run_cli

# These runs use the default backend, auto: where TensorRT and a GPU are usable it builds an engine before
# the run (progress lines on stderr, minutes), so the one-line CPU behaviour checked here needs no GPU.
pytestmark = pytest.mark.no_gpu


@pytest.fixture(scope="module")
def onnx_model(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


def test_missing_source_file(onnx_model, tmp_path):
    assert_one_line_error(run_cli("--source", tmp_path / "missing.mp4", "--model", onnx_model), "not found", "missing.mp4")


def test_random_bytes_named_mp4(onnx_model, tmp_path):
    bad = tmp_path / "random.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(50000))
    result = run_cli("--source", bad, "--model", onnx_model, "--json", tmp_path / "out.jsonl")
    assert_one_line_error(result, "not a video")
    assert sorted(os.listdir(tmp_path)) == ["random.mp4"]


def test_empty_file(onnx_model, tmp_path):
    (tmp_path / "empty.mp4").touch()
    assert_one_line_error(run_cli("--source", tmp_path / "empty.mp4", "--model", onnx_model), "empty")


def test_absent_camera_and_unreachable_stream(onnx_model):
    assert_one_line_error(run_cli("--source", "63", "--model", onnx_model), "camera 63")
    assert_one_line_error(run_cli("--source", "rtsp://127.0.0.1:9/x", "--model", onnx_model), "cannot open stream")


def test_model_that_is_not_a_detector(tmp_path, data_dir):
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"\x08\x01garbage")
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--model", garbage), "cannot load ONNX model")
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--model", tmp_path / "nope.onnx"), "not found")


def test_classes_disagree_with_model(onnx_model, data_dir):
    engine = ("--backend", "onnxruntime")  # the class check, not auto's engine trial, is this test's subject
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, *engine, "--classes", "7"),
                          "2 classes")
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, *engine, "--classes", "car"),
                          "'car'")


def test_output_directory_missing(onnx_model, data_dir, tmp_path):
    result = run_cli("--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--save", tmp_path / "no" / "x.mp4")
    assert_one_line_error(result, "output directory does not exist")
    result = run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, "--save", f"{tmp_path}/no/deeper/")
    assert_one_line_error(result, "output directory does not exist")


def test_images_folder_to_jsonl(onnx_model, data_dir, tmp_path, capsys):
    out = tmp_path / "det.jsonl"
    status = main(["--source", str(data_dir / "*.jpg"), "--model", onnx_model, "--json", str(out), "--classes", "Normal",
                   "--backend", "onnxruntime"])  # images to JSONL is the subject, not auto's engine trial
    assert status == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["source"] for r in records] == ["bus.jpg", "dog.jpg", "person.jpg", "zidane.jpg"]
    assert all(r["frame"] == 0 for r in records)
    bus = records[0]["detections"]
    assert len(bus) >= 3 and {d["label"] for d in bus} == {"Normal"}
    for d in bus:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 810 and 0 <= y1 < y2 <= 1080
    assert "4 images in" in capsys.readouterr().err
