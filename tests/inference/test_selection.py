"""``--backend auto`` on the CPU: the measured trial, its cache, the accuracy guard and forced precisions,
on the real human-fall YOLOv8 (the guard's frames: the bundled demo clip, real footage of people)."""
import json

import cv2
import pytest

from rtdetect.agreement import Agreement
from rtdetect.errors import ModelError
from rtdetect.inference import create_engine, open_cpu_engine
from rtdetect.inference.selection import (REFERENCE, Candidate, candidates, choices_dir, fastest_accepted,
                                          guard_accepts, host_key, run_trial, select_candidate)
from rtdetect.inference.onnx_tools.calibration import calibration_frames

pytest.importorskip("openvino")
FP32 = [REFERENCE, Candidate("openvino", "fp32")]


@pytest.fixture(scope="module")
def fall_onnx(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


def test_candidates_follow_the_cpu_and_the_options():
    vnni = ("avx2", "avx512_vnni")
    assert candidates(capabilities=("FP32", "INT8"), flags=vnni) == [REFERENCE, Candidate("openvino", "fp32"),
                                                                     Candidate("openvino", "int8")]
    # Without an 8-bit dot product (AVX2 only) int8 saturates: not tried unless asked for.
    assert candidates(capabilities=("FP32", "INT8"), flags=("avx2", "fma")) == FP32
    assert candidates(precision="int8", capabilities=("FP32", "INT8"), flags=("avx2",)) == [Candidate("openvino", "int8")]
    assert Candidate("openvino", "bf16") in candidates(capabilities=("FP32", "BF16", "INT8"), flags=vnni)
    assert candidates("openvino", capabilities=("FP32",)) == [Candidate("openvino", "fp32")]
    assert candidates(precision="fp32", capabilities=("FP32",)) == FP32
    assert candidates("onnxruntime", "int8") == [Candidate("onnxruntime", "int8")]  # forced pair, as given
    with pytest.raises(ModelError, match="bf16 needs a CPU that OpenVINO reports as BF16-capable"):
        candidates(precision="bf16", capabilities=("FP32", "INT8"))


def test_guard_rule():
    def agree(matched, ref, other):
        return Agreement(frames=6, matched=matched, reference=ref, other=other, iou_threshold=0.9, masks=False)

    int8 = Candidate("openvino", "int8")
    assert guard_accepts(int8, agree(99, 100, 100)) and not guard_accepts(int8, agree(97, 100, 100))
    assert not guard_accepts(int8, agree(0, 0, 0))  # nothing detected: nothing verified
    assert guard_accepts(Candidate("openvino", "fp32"), agree(0, 100, 100))  # fp32 is never guarded


def test_trial_is_measured_once_then_read_from_the_cache(fall_onnx, tmp_path):
    lines = []
    choose = lambda host: select_candidate(  # noqa: E731
        fall_onnx, precision="fp32", imgsz=(640, 640), cache_dir=tmp_path, host=host, log=lines.append,
        open_engine=lambda c: open_cpu_engine(fall_onnx, backend=c.backend, precision=c.precision))
    host = host_key()
    first = choose(host)
    assert first in FP32 and len(lines) == 1
    assert lines[0].startswith(f"rtdetect: auto: {first.label} for best_fp16.onnx") and "F1 1.000" in lines[0]
    [stored] = choices_dir(tmp_path).glob("*.json")
    record = json.loads(stored.read_text())
    assert record["choice"] == first.label and record["key"]["cpu"] == host["cpu"]
    results = {r["candidate"]: r for r in record["results"]}
    assert set(results) == {c.label for c in FP32}
    openvino = results["openvino fp32"]
    assert openvino["accepted"] and openvino["agreement"]["reference"] >= 6 and openvino["ms_per_frame"] > 0
    assert openvino["agreement"]["matched"] == openvino["agreement"]["reference"] == openvino["agreement"]["other"]

    assert choose(host) == first and len(lines) == 1  # same key: read, not measured
    moved = dict(host, cpu_flags_sha256="another-cpu", libraries=dict(host["libraries"], openvino="0.0"))
    choose(moved)
    assert len(lines) == 2 and len(list(choices_dir(tmp_path).glob("*.json"))) == 2  # new key: measured again


def test_guard_rejects_a_genuinely_degraded_int8(fall_onnx, tmp_path, data_dir):
    """An int8 model calibrated on one flat grey image: its activation ranges are far too narrow for real
    frames, so its detections drift from fp32's. ONNX Runtime executes Q/DQ exactly as written, so the
    damage is the calibration's, on any CPU. The guard must refuse it, however fast it is."""
    flat = tmp_path / "calibration"
    flat.mkdir()
    cv2.imwrite(str(flat / "grey.png"), cv2.imread(str(data_dir / "bus.jpg")) * 0 + 114)
    degraded = Candidate("onnxruntime", "int8")

    def open_engine(candidate):
        return open_cpu_engine(fall_onnx, backend=candidate.backend, precision=candidate.precision,
                               calib_source=str(flat), calib_frames=1, cache_dir=str(tmp_path))

    images = list(calibration_frames(str(data_dir / "vtest_3s.mp4"), 6))
    results = {r.candidate: r for r in run_trial([REFERENCE, degraded], open_engine, images, rounds=1)}
    assert results[REFERENCE].accepted
    bad = results[degraded]
    assert bad.status == "ok" and bad.agreement.reference >= 6
    assert bad.agreement.f1 < 0.98 and not bad.accepted, bad.describe()
    assert "REJECTED" in bad.describe()
    assert fastest_accepted(list(results.values())).candidate == REFERENCE


def test_forced_precision_runs_without_a_trial(fall_onnx, tmp_path):
    lines = []
    with create_engine(fall_onnx, backend="openvino", precision="fp32", cache_dir=str(tmp_path), log=lines.append) as engine:
        assert (engine.name, engine.precision, engine.max_in_flight) == ("openvino", "fp32", 2)
    with create_engine(fall_onnx, backend="onnxruntime", cache_dir=str(tmp_path), log=lines.append) as engine:
        assert (engine.name, engine.precision) == ("onnxruntime", "fp32")
    assert lines == [] and not choices_dir(tmp_path).exists()
