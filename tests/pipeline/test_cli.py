"""The command line as a user meets it: one-line errors with a non-zero exit, and nothing half-written."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rtdetect.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rtdetect.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def onnx_model(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1, result.stderr
    # "rtdetect: auto: ..." reports --backend auto's measured choice (once per model and machine): not an error.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("rtdetect: auto: ")]
    assert len(lines) == 1 and lines[0].startswith("rtdetect: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


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
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, "--classes", "7"), "2 classes")
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, "--classes", "car"), "'car'")


def test_output_directory_missing(onnx_model, data_dir, tmp_path):
    result = run_cli("--source", data_dir / "bus.jpg", "--model", onnx_model, "--save", tmp_path / "no" / "x.mp4")
    assert_one_line_error(result, "output directory does not exist")


def test_images_folder_to_jsonl(onnx_model, data_dir, tmp_path, capsys):
    out = tmp_path / "det.jsonl"
    status = main(["--source", str(data_dir / "*.jpg"), "--model", onnx_model, "--json", str(out), "--classes", "Normal"])
    assert status == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["source"] for r in records] == ["bus.jpg", "dog.jpg", "person.jpg", "zidane.jpg"]
    assert all(r["frame"] == 0 for r in records)
    bus = records[0]["detections"]
    assert len(bus) >= 3 and {d["label"] for d in bus} == {"Normal"}
    for d in bus:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 810 and 0 <= y1 < y2 <= 1080
    assert "4 frames" in capsys.readouterr().err
