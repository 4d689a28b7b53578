"""Cached model files are verified before use: every converted ONNX and int8 variant has its SHA-256 beside
it, and one that was damaged (still parseable or truncated) is rebuilt with a note, never used."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from rtdetect.inference.int8 import int8_model
from rtdetect.trial_inputs import MediaFrames
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.models.cache import checksum_path, file_sha256

from tests.pipeline.cli_helpers import run_cli


def zero_weights(path) -> None:
    """Damage an ONNX file so that it still parses and runs: every float weight becomes 0."""
    model = onnx.load(str(path))
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(init)), init.name))
    onnx.save(model, str(path))
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # it really still loads


def truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def detect(checkpoint, image, out, cache):
    result = run_cli("--source", image, "--model", checkpoint, "--imgsz", 160, "--backend", "onnxruntime",
                     "--json", out, env={"RTDETECT_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    return record["detections"], result.stderr


def test_damaged_cached_conversion_is_rebuilt_not_used(fall_detection_dir, data_dir, tmp_path):
    checkpoint, image, cache = fall_detection_dir / "best.pt", data_dir / "bus.jpg", tmp_path / "cache"
    first, _ = detect(checkpoint, image, tmp_path / "first.jsonl", cache)
    assert len(first) >= 3
    [converted] = cache.glob("*.onnx")
    recorded = checksum_path(converted).read_text().split()
    assert recorded == [file_sha256(converted), converted.name]
    for damage in (zero_weights, truncate):
        damage(converted)
        again, stderr = detect(checkpoint, image, tmp_path / f"{damage.__name__}.jsonl", cache)
        assert again == first, damage.__name__  # was: 0 detections (zeroed), or an error on every run (truncated)
        assert f"the cached model {converted} is not used" in stderr and "rebuilding it" in stderr
        assert file_sha256(converted) == recorded[0]
    _, quiet = detect(checkpoint, image, tmp_path / "intact.jsonl", cache)
    assert "rebuilding" not in quiet


def test_damaged_int8_variant_is_rebuilt(small_detector, data_dir, tmp_path, capsys):
    def build():
        return int8_model(str(small_detector), backend="onnxruntime", calibration=MediaFrames(str(data_dir / "bus.jpg")),
                          frames=1, imgsz=(160, 160), cache_dir=tmp_path, progress=False)

    path = build()
    digest = file_sha256(path)
    truncate(path)
    capsys.readouterr()
    assert build() == path and file_sha256(path) == digest  # was: the truncated file, failing every later run
    assert "is not used" in capsys.readouterr().err
    OnnxRuntimeEngine(str(path)).close()
