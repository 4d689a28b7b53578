"""Engine cache keys, validation and the rebuild paths, with a fake TensorRT toolkit (conftest.FakeToolkit:
it tests rtdetect's cache logic only, not TensorRT)."""
import dataclasses
import json
import os

import pytest

from rtdetect.errors import ModelError
from rtdetect.inference.tensorrt.builder import BuildRequest, EngineBuilder, open_engine
from rtdetect.inference.tensorrt.cache import EngineKey, engines_dir, validate, write_engine
from rtdetect.inference.tensorrt.errors import EngineLoadError
from rtdetect.trial_inputs import MediaFrames

from .conftest import FAKE_MAGIC, FakeToolkit, fake_load, make_tiny_detector

KEY = EngineKey("a" * 64, "10.13.3.9", "NVIDIA GeForce RTX 4090", (8, 9), "fp16", "images",
                (1, 3, 640, 640), (4, 3, 640, 640), (4, 3, 640, 640), "", 1)
OTHER_VALUES = {"onnx_sha256": "b" * 64, "trt_version": "11.4.0.106", "gpu_name": "Orin", "compute_capability": (8, 7),
                "precision": "int8", "input_name": "input", "shape_min": (2, 3, 640, 640),
                "shape_opt": (2, 3, 640, 640), "shape_max": (8, 3, 640, 640), "calibration": "f00d", "schema": 2}


def builder(tmp_path, messages, toolkit=None):
    return EngineBuilder(toolkit or FakeToolkit(), cache_dir=tmp_path / "cache", log=messages.append)


def test_every_key_component_changes_the_digest():
    assert set(OTHER_VALUES) == {f.name for f in dataclasses.fields(EngineKey)}
    digests = {KEY.digest()}
    for name, value in OTHER_VALUES.items():
        digests.add(dataclasses.replace(KEY, **{name: value}).digest())
    assert len(digests) == 1 + len(OTHER_VALUES)
    assert KEY.digest() == EngineKey.from_dict(json.loads(json.dumps(KEY.to_dict()))).digest()


def test_engines_live_under_the_cache_root(tmp_path):
    assert engines_dir(tmp_path) == tmp_path / "engines"
    assert engines_dir(None, {"RTDETECT_CACHE": str(tmp_path)}) == tmp_path / "engines"


def test_second_request_reuses_the_engine(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages)
    first = b.ensure(BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32)))
    second = b.ensure(BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32)))
    assert first.built and not second.built and first.engine == second.engine
    assert len(b.toolkit.builds) == 1


def test_engine_file_is_pure_and_sidecar_has_metadata_and_key(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages)
    paths = b.ensure(BuildRequest(tiny_onnx, "fp32", imgsz=(32, 32)))
    assert paths.engine.read_bytes().startswith(FAKE_MAGIC)  # nothing glued on front
    sidecar = json.loads(paths.sidecar.read_text())
    assert sidecar["key"] == paths.key.to_dict() and sidecar["digest"] == paths.key.digest()
    assert sidecar["metadata"]["rtdetect.names"] == '["a", "b"]' and sidecar["metadata"]["rtdetect.precision"] == "fp32"
    assert sidecar["engine_bytes"] == paths.engine.stat().st_size
    assert paths.engine.name == f"tiny-fp32-32x32-b1-{paths.key.digest()}.engine"
    assert not [p for p in paths.engine.parent.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("change", ["precision", "onnx", "trt", "gpu", "imgsz", "batch"])
def test_anything_that_matters_gives_a_new_engine(tmp_path, messages, change):
    onnx_path = make_tiny_detector(tmp_path / "m.onnx", batch=None, hw=(32, 32))
    request = BuildRequest(onnx_path, "fp16", batch=2, imgsz=(32, 32))
    first = builder(tmp_path, messages).ensure(request)
    toolkit = FakeToolkit()
    if change == "precision":
        request = dataclasses.replace(request, precision="fp32")
    elif change == "onnx":
        make_tiny_detector(onnx_path, batch=None, weight_seed=1)
    elif change == "trt":
        toolkit = FakeToolkit(trt_version="11.4.0.106")
    elif change == "gpu":
        toolkit = FakeToolkit(gpu=("Orin", (8, 7)))
    elif change == "batch":
        request = dataclasses.replace(request, batch=4)
    else:
        make_tiny_detector(onnx_path, batch=None, hw=(64, 64))
        request = dataclasses.replace(request, imgsz=(64, 64))
    second = builder(tmp_path, messages, toolkit).ensure(request)
    assert second.built and second.engine != first.engine and first.engine.exists()


def test_timing_cache_is_shared_across_builds(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages)
    b.ensure(BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32)))
    b.ensure(BuildRequest(tiny_onnx, "fp32", imgsz=(32, 32)))
    caches = {build[4] for build in b.toolkit.builds}
    assert len(caches) == 1
    assert next(iter(caches)).read_bytes() == b"tt"  # the second build found the first one's cache


def _corrupt_same_size(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, reason", [
    (lambda p: _corrupt_same_size(p.engine), "hash differs"),
    (lambda p: p.engine.write_bytes(p.engine.read_bytes()[:10]), "size differs"),
    (lambda p: p.sidecar.write_text("{not json"), "unreadable"),
    (lambda p: p.sidecar.unlink(), "unreadable"),
    (lambda p: p.sidecar.write_text(p.sidecar.read_text().replace('"precision": "fp16"', '"precision": "fp32"')),
     "differs in precision"),
    (lambda p: p.sidecar.write_text(p.sidecar.read_text().replace('"schema": 1', '"schema": 99', 1)), "schema"),
])
def test_damaged_cache_entries_are_detected_reported_and_rebuilt(tmp_path, tiny_onnx, messages, damage, reason):
    b = builder(tmp_path, messages)
    request = BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32))
    paths = b.ensure(request)
    damage(paths)
    assert reason in validate(paths)
    again = b.ensure(request)
    assert again.built and len(b.toolkit.builds) == 2
    assert validate(again) is None
    assert any("unusable" in m and reason in m for m in messages)


def test_engine_that_tensorrt_cannot_deserialise_is_rebuilt(tmp_path, tiny_onnx, messages):
    """Sidecar and hash agree but the plan does not load (e.g. another TensorRT wrote it): the load
    failure (deserialize returned None) triggers one reported rebuild."""
    b = builder(tmp_path, messages)
    request = BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32))
    paths = b.resolve(request).paths
    write_engine(paths, b"not a plan this TensorRT can read", {"rtdetect.names": "[]"})
    assert validate(paths) is None
    loaded, final = open_engine(b, request, fake_load)
    assert loaded["plan"].startswith(FAKE_MAGIC) and final.built
    assert any("cannot be loaded" in m for m in messages)


def test_verify_deserialises_the_cached_engine(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages)
    request = BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32))
    write_engine(b.resolve(request).paths, b"stale plan", {})
    assert not b.ensure(request).built  # sidecar checks alone accept it
    assert b.ensure(request, verify=True).built
    assert any("cannot deserialise" in m for m in messages)


def test_freshly_built_engine_that_does_not_load_is_an_error_not_a_loop(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages)
    with pytest.raises(EngineLoadError):
        open_engine(b, BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32)), lambda data: fake_load(b"x"))
    assert len(b.toolkit.builds) == 1


def test_rebuild_flag_forces_a_build(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages)
    request = BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32))
    b.ensure(request)
    assert b.ensure(request, rebuild=True).built and len(b.toolkit.builds) == 2


def test_batch_needs_a_dynamic_batch_model(tmp_path, tiny_onnx, tiny_dynamic_onnx, messages):
    b = builder(tmp_path, messages)
    with pytest.raises(ModelError, match="--dynamic"):
        b.ensure(BuildRequest(tiny_onnx, "fp16", batch=4, imgsz=(32, 32)))
    paths = b.ensure(BuildRequest(tiny_dynamic_onnx, "fp16", batch=4, imgsz=(32, 32)))
    key = paths.key
    assert (key.shape_min, key.shape_opt, key.shape_max) == ((1, 3, 32, 32), (4, 3, 32, 32), (4, 3, 32, 32))
    assert paths.engine.name.startswith("tiny_dyn-fp16-32x32-b4-")


def test_static_input_size_must_match_imgsz(tmp_path, tiny_onnx, messages):
    with pytest.raises(ModelError, match="fixed at 32x32"):
        builder(tmp_path, messages).ensure(BuildRequest(tiny_onnx, "fp16", imgsz=(64, 64)))


def test_int8_needs_a_calibration_source(tmp_path, tiny_onnx, messages):
    with pytest.raises(ModelError, match="--calib-source"):
        builder(tmp_path, messages).ensure(BuildRequest(tiny_onnx, "int8", imgsz=(32, 32)))


def test_int8_key_follows_the_calibration_set(tmp_path, tiny_onnx, messages, data_dir):
    b = builder(tmp_path, messages)
    video = str(data_dir / "vtest_3s.mp4")
    requests = [BuildRequest(tiny_onnx, "int8", imgsz=(32, 32), calibration=MediaFrames(src), calib_frames=n)
                for src, n in ((video, 10), (video, 20), (str(data_dir), 10))]
    keys = {b.resolve(r).paths.key.digest() for r in requests}
    assert len(keys) == 3


def test_missing_model_is_a_model_error(tmp_path, messages):
    with pytest.raises(ModelError, match="not found"):
        builder(tmp_path, messages).ensure(BuildRequest(tmp_path / "nope.onnx"))


def test_trt11_fp16_builds_from_the_converted_onnx(tmp_path, tiny_onnx, messages):
    b = builder(tmp_path, messages, FakeToolkit(trt_version="11.4.0.106"))
    b.ensure(BuildRequest(tiny_onnx, "fp16", imgsz=(32, 32)))
    onnx_path, recipe = b.toolkit.builds[0][:2]
    assert recipe.strongly_typed and onnx_path != tiny_onnx and "fp16" in onnx_path.name
    assert os.path.dirname(onnx_path).endswith(os.path.join("engines", "onnx"))
