"""``--backend auto`` on the CPU: the measured trial, its cache, the accuracy guard and forced precisions,
on the real human-fall YOLOv8 (the guard's frames: the bundled demo clip, real footage of people)."""
import hashlib
import json
import shutil
import threading

import cv2
import onnx
import pytest

from rtdetect.agreement import Agreement
from rtdetect.errors import ModelError
from rtdetect.inference import create_engine, open_cpu_engine
from rtdetect.inference.selection import (REFERENCE, Candidate, TrialResult, candidates, choices_dir,
                                          fastest_accepted, guard_accepts, host_key, run_trial, select_candidate,
                                          write_choice)
from rtdetect.trial_inputs import MediaFrames

pytest.importorskip("openvino")
FP32 = [REFERENCE, Candidate("openvino", "fp32")]


@pytest.fixture(scope="module")
def fall_onnx(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


def test_candidates_follow_the_cpu_and_the_options(monkeypatch):
    int8 = [Candidate("onnxruntime", "int8"), Candidate("openvino", "int8")]
    # INT8 on every CPU, an AVX2 one without VNNI too (was: dropped there): the recipes avoid saturation.
    monkeypatch.setattr("rtdetect.inference.selection.cpu_flags", lambda: ("avx", "avx2", "fma"))
    assert candidates(capabilities=("FP32", "INT8")) == [REFERENCE, int8[0], Candidate("openvino", "fp32"), int8[1]]
    assert candidates(precision="int8", capabilities=("FP32", "INT8")) == int8
    assert Candidate("openvino", "bf16") in candidates(capabilities=("FP32", "BF16", "INT8"))
    assert candidates("openvino", capabilities=("FP32",)) == [Candidate("openvino", "fp32")]
    assert candidates(precision="fp32", capabilities=("FP32",)) == FP32
    assert candidates("onnxruntime") == [REFERENCE]  # the reference engine: fp32 unless int8 is asked for
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
        calibration=MediaFrames(),
        open_engine=lambda c: open_cpu_engine(fall_onnx, backend=c.backend, precision=c.precision))
    host = host_key()
    first = choose(host)
    assert first in FP32 and len(lines) == 2  # what it waits for, then what it chose
    assert lines[0] == "rtdetect: auto: measuring the CPU engines once for this model and machine"
    assert lines[1].startswith(f"rtdetect: auto: {first.label} for best_fp16.onnx") and "F1 1.000" in lines[1]
    [stored] = choices_dir(tmp_path).glob("*.json")
    record = json.loads(stored.read_text())
    assert record["choice"] == first.label and record["key"]["cpu"] == host["cpu"]
    results = {r["candidate"]: r for r in record["results"]}
    assert set(results) == {c.label for c in FP32}
    openvino = results["openvino fp32"]
    assert openvino["accepted"] and openvino["agreement"]["reference"] >= 6 and openvino["ms_per_frame"] > 0
    assert openvino["agreement"]["matched"] == openvino["agreement"]["reference"] == openvino["agreement"]["other"]

    assert choose(host) == first and len(lines) == 2  # same key: read, not measured
    moved = dict(host, cpu_flags_sha256="another-cpu", libraries=dict(host["libraries"], openvino="0.0"))
    choose(moved)
    assert len(lines) == 4 and len(list(choices_dir(tmp_path).glob("*.json"))) == 2  # new key: measured again


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
                               calibration=MediaFrames(str(flat)), calib_frames=1, cache_dir=str(tmp_path))

    clip = MediaFrames(str(data_dir / "vtest_3s.mp4"))
    results = {r.candidate: r for r in run_trial([REFERENCE, degraded], open_engine, list(clip.frames(6)), clip,
                                                 rounds=1)}
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


def chooser(cache, lines, host, **options):
    """select_candidate for any model path, on the real engines, at the small detector's 160x160."""
    options = {"precision": "fp32", **options}

    def choose(model):
        return select_candidate(str(model), imgsz=(160, 160), cache_dir=cache, host=host, log=lines.append,
                                calibration=MediaFrames(),
                                open_engine=lambda c: open_cpu_engine(str(model), backend=c.backend,
                                                                      precision=c.precision, imgsz=(160, 160)),
                                **options)
    return choose


def measured(lines):
    return [line for line in lines if line.startswith("rtdetect: auto: ") and " for " in line and "ms/frame" in line]


def test_choice_record_is_keyed_by_the_model_content_not_its_path(small_detector, tmp_path):
    lines = []
    choose = chooser(tmp_path / "cache", lines, host_key())
    first = tmp_path / "a" / "model.onnx"
    first.parent.mkdir()
    shutil.copyfile(small_detector, first)
    choose(first)
    assert len(measured(lines)) == 1
    elsewhere = tmp_path / "b" / "renamed.onnx"
    elsewhere.parent.mkdir()
    shutil.copyfile(small_detector, elsewhere)
    choose(elsewhere)  # the same bytes at another path: the same record
    assert len(measured(lines)) == 1
    model = onnx.load(str(first))  # other bytes at the first path: a model of its own, measured again
    model.metadata_props.add(key="note", value="re-exported")
    onnx.save(model, str(first))
    choose(first)
    assert len(measured(lines)) == 2
    assert len(list(choices_dir(tmp_path / "cache").glob("*.json"))) == 2


def stored_record(cache):
    [path] = choices_dir(cache).glob("*.json")
    return path, json.loads(path.read_text())


def test_damaged_choice_record_is_discarded_and_measured_again(small_detector, tmp_path):
    lines = []
    cache = tmp_path / "cache"
    choose = chooser(cache, lines, host_key())
    choose(small_detector)
    path, record = stored_record(cache)
    record["choice"] = "openvino int8"  # edited by hand (or damaged): its checksum no longer matches
    path.write_text(json.dumps(record))
    again = choose(small_detector)
    assert again in FP32 and len(measured(lines)) == 2  # was: openvino int8, unmeasured
    assert any("is not used (its checksum does not match" in line for line in lines), lines
    assert stored_record(cache)[1]["choice"] == again.label  # measured again, and the record replaced
    path.write_text(path.read_text()[:100])  # truncated
    choose(small_detector)
    assert len(measured(lines)) == 3 and any("is not used (it cannot be read" in line for line in lines), lines


@pytest.mark.parametrize("field, value", [("agreement", {"frames": "6", "matched": "x", "reference": None,
                                                              "other": [], "iou_threshold": 0.9, "masks": False}),
                                          ("agreement", {"frames": 6, "matched": 99, "reference": 1, "other": 1,
                                                         "iou_threshold": 0.9, "masks": False}),
                                          ("ms_per_frame", "fast")])
def test_signed_record_with_figures_of_the_wrong_kind_is_not_used(small_detector, tmp_path, field, value):
    """A record whose checksum matches (re-signed after an edit, as the format allows) but whose figures are
    not figures ended every run with a traceback (TypeError in the agreement's F1)."""
    lines = []
    cache = tmp_path / "cache"
    choose = chooser(cache, lines, host_key())
    chosen = choose(small_detector)
    path, record = stored_record(cache)
    for result in record["results"]:
        if result["candidate"] == chosen.label:
            result[field] = value
    body = {k: v for k, v in record.items() if k != "sha256"}  # the record's own checksum, as documented
    record["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    path.write_text(json.dumps(record))
    lines.clear()
    assert choose(small_detector) in FP32
    assert any("is not used (its content is not a choice record)" in line for line in lines), lines
    assert len(measured(lines)) == 1


@pytest.mark.parametrize("forged", ["rejected", "impossible"])
def test_record_naming_a_rejected_or_impossible_candidate_is_not_used(small_detector, tmp_path, forged):
    """A record (with a valid checksum, as a buggy or older rtdetect could write it) whose choice the guard
    rejected, or which is not a candidate here at all, must not decide the engine: it is measured again."""
    lines = []
    cache = tmp_path / "cache"
    host = dict(host_key(), openvino_capabilities=["FP32", "BF16"])  # bf16 is a candidate (where it opens)
    choose = chooser(cache, lines, host, precision="auto", backend="openvino")
    choose(small_detector)
    path, record = stored_record(cache)
    if forged == "rejected":
        bad = TrialResult(Candidate("openvino", "bf16"), "ok", None, 0.1, [0.1],
                          Agreement(frames=6, matched=0, reference=12, other=12, iou_threshold=0.9, masks=False),
                          accepted=False)
        reason = "was not accepted by the accuracy guard"
    else:
        bad = TrialResult(Candidate("openvino", "fp16"), "ok", None, 0.1, [0.1], None, accepted=True)
        reason = "is not a candidate here"
    write_choice(path, record["key"], str(small_detector), bad, [TrialResult.from_dict(r) for r in record["results"]] + [bad])
    lines.clear()
    chosen = choose(small_detector)
    assert chosen != bad.candidate and chosen in candidates("openvino", "auto", host["openvino_capabilities"])
    assert any(reason in line for line in lines) and len(measured(lines)) == 1, lines


def test_two_first_runs_at_once_measure_once(small_detector, tmp_path):
    """The first run's trial holds the record's lock: the second run waits for it (and says so), then uses
    the first run's record instead of timing the engines while the first one does."""
    lines, trial_started, second_waits = [], threading.Event(), threading.Event()

    def log(line):
        lines.append(line)
        if "waiting for" in line:
            second_waits.set()

    def open_engine(candidate):
        trial_started.set()
        second_waits.wait(timeout=120)  # keep the first trial going until the second run is at the lock
        return open_cpu_engine(str(small_detector), backend=candidate.backend, precision=candidate.precision,
                               imgsz=(160, 160))

    chosen = []

    def run():
        chosen.append(select_candidate(str(small_detector), precision="fp32", imgsz=(160, 160), host=host_key(),
                                       cache_dir=tmp_path, log=log, open_engine=open_engine,
                                       calibration=MediaFrames()))

    first = threading.Thread(target=run)
    first.start()
    assert trial_started.wait(timeout=300)
    second = threading.Thread(target=run)
    second.start()
    first.join(timeout=600)
    second.join(timeout=600)
    assert len(chosen) == 2 and chosen[0] == chosen[1]
    assert len(measured(lines)) == 1 and sum("waiting for" in line for line in lines) == 1, lines
    assert len(list(choices_dir(tmp_path).glob("*.json"))) == 1


def broken_head(source: str, target) -> str:
    """``source`` with its detection head broken on purpose: every prediction conv of the head (found as the
    quantizers find it) has its weights halved, as a quantization that damaged the head would."""
    from rtdetect.inference.onnx_tools.variants import head_node_names

    model = onnx.load(source)
    head = head_node_names(model)
    weights = {n.input[1] for n in model.graph.node if n.name in head and n.op_type == "Conv"}
    assert weights
    for init in model.graph.initializer:
        if init.name in weights:
            array = onnx.numpy_helper.to_array(init)
            init.CopyFrom(onnx.numpy_helper.from_array(array * 0.5, init.name))
    onnx.save(model, str(target))
    return str(target)


def kept_detections(reference_engine, engine, supply, images):
    """Agreement of ``engine``'s detections with ``reference_engine``'s at IoU >= 0.5 (same class): whether
    INT8 kept the detections at all (the saturation failure lost them), looser than the guard's IoU 0.9."""
    from rtdetect.agreement import agreement

    return agreement(supply.detections(reference_engine, images), supply.detections(engine, images), 0.5)


def test_openvino_int8_of_nncf_keeps_the_detections_and_the_guard_rejects_a_broken_head(fall_onnx, tmp_path, data_dir):
    """OpenVINO INT8 is NNCF's quantization (MIXED, head ignored, overflow fix), stored as OpenVINO IR: on
    real footage of people it keeps ONNX Runtime fp32's detections. An INT8 model made the same way from the
    model with its head broken on purpose is rejected by the accuracy guard, however fast it is."""
    pytest.importorskip("nncf")
    from rtdetect.inference.int8 import int8_model
    from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
    from rtdetect.inference.openvino import OpenVinoEngine

    clip = MediaFrames(str(data_dir / "vtest_3s.mp4"))
    images = list(clip.frames(6))
    def quantized(source):
        return str(int8_model(source, backend="openvino", calibration=clip, frames=10, imgsz=(640, 640),
                              cache_dir=tmp_path, progress=False))

    with OnnxRuntimeEngine(fall_onnx) as reference, OpenVinoEngine(quantized(fall_onnx), precision="int8") as engine:
        assert engine.metadata["rtdetect.precision"] == "int8"
        assert engine.metadata["names"] == reference.metadata["names"]  # the exporter's metadata, kept
        kept = kept_detections(reference, engine, clip, images)
    assert kept.reference >= 6 and kept.f1 >= 0.9, kept.describe()

    int8 = Candidate("openvino", "int8")
    broken = quantized(broken_head(fall_onnx, tmp_path / "broken.onnx"))

    def open_engine(candidate):
        if candidate == REFERENCE:
            return OnnxRuntimeEngine(fall_onnx)
        return OpenVinoEngine(broken, precision="int8")

    rejected = {r.candidate: r for r in run_trial([REFERENCE, int8], open_engine, images, clip, rounds=1)}[int8]
    assert rejected.status == "ok" and not rejected.accepted and "REJECTED" in rejected.describe()


def test_onnxruntime_int8_is_u8s8_with_the_precise_x64_kernels_and_keeps_the_detections(fall_onnx, tmp_path, data_dir):
    """ONNX Runtime INT8: unsigned activations with signed weights (what its x86 kernels take), the session
    asking for the exact u8u8 products where u8s8 would saturate (x86 without VNNI: not this CPU, where ORT
    ignores the entry), and the detections of fp32 kept on real footage."""
    from rtdetect.inference.onnxruntime import OnnxRuntimeEngine

    clip = MediaFrames(str(data_dir / "vtest_3s.mp4"))
    with open_cpu_engine(fall_onnx, backend="onnxruntime", precision="int8", calibration=clip, calib_frames=10,
                         cache_dir=str(tmp_path)) as engine, OnnxRuntimeEngine(fall_onnx) as reference:
        assert engine.precision == "int8" and engine.session_config["session.x64quantprecision"] == "1"
        kept = kept_detections(reference, engine, clip, list(clip.frames(6)))
        model = onnx.load(engine.path)
    assert kept.reference >= 6 and kept.f1 >= 0.9, kept.describe()
    zero_points = {i.name: i.data_type for i in model.graph.initializer}
    activations = {zero_points[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"}
    assert activations == {onnx.TensorProto.UINT8}
