"""Safe checkpoint import: official YOLOv5 weights, refusal of code-running and broken files,
and the rtdetect save format round trip."""
from __future__ import annotations

import builtins
import os
import subprocess
import zipfile

import pytest
import torch

from rtdetect.models import build_model, load_model, save_model
from rtdetect.models.coco import COCO80_NAMES
from rtdetect.models.errors import (CheckpointFormatError, StateDictMismatchError,
                                    UnsafeCheckpointError, UnsupportedModelError)
from rtdetect.models.unpickler import safe_load

V5_ANCHORS_PX = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]


def test_yolov5seg_import_recovers_everything(v5seg_model):
    m = v5seg_model
    assert (m.family, m.task, m.layout, m.source) == ("yolov5", "segment", "v5", "yolov5")
    assert m.names == list(COCO80_NAMES) and m.num_classes == 80 and m.num_masks == 32
    assert m.strides == (8, 16, 32)
    anchors_px = (m.head.anchors * m.head.stride.view(-1, 1, 1)).view(3, -1)
    assert torch.allclose(anchors_px, torch.tensor(V5_ANCHORS_PX, dtype=torch.float32))
    assert not m.training


def test_fp16_checkpoint_loads_as_float32_with_the_same_values(v5seg_model, v5seg_weights):
    raw = safe_load(str(v5seg_weights))["model"]
    assert raw.attrs["_modules"]["model"] is not None
    for name, tensor in v5seg_model.state_dict().items():
        if tensor.is_floating_point():
            assert tensor.dtype == torch.float32, name
    first = v5seg_model.state_dict()["model.0.conv.weight"]
    assert torch.equal(first, first.half().float())  # exactly the fp16 values


def test_batchnorm_eps_comes_from_the_checkpoint(v5seg_model):
    eps = {m.eps for m in v5seg_model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == {0.001}


class _Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("func, name", [(os.system, "system"), (builtins.eval, "builtins.eval"),
                                        (subprocess.call, "subprocess.call")])
def test_code_running_checkpoint_is_refused_and_nothing_runs(tmp_path, func, name):
    marker = tmp_path / "pwned"
    payload = f"touch {marker}" if func is not builtins.eval else f"open({str(marker)!r}, 'w')"
    if func is subprocess.call:
        payload = ["touch", str(marker)]
    path = tmp_path / "evil.pt"
    torch.save({"model": _Evil(func, payload)}, path)
    with pytest.raises(UnsafeCheckpointError, match=name) as err:
        load_model(path)
    assert "not allowed" in str(err.value)
    assert not marker.exists()


def test_record_classes_are_inert_even_when_reduced_with_arguments(tmp_path):
    """A pickle that 'calls' a YOLO class with arguments only builds an inert record."""
    arg = b"rm -rf /"
    blob = (b"\x80\x02}X\x01\x00\x00\x00x" + b"cmodels.common\nConv\n"
            + b"X" + len(arg).to_bytes(4, "little") + arg + b"\x85Rs.")
    path = tmp_path / "records.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", blob)
    record = safe_load(str(path))["x"]
    assert record.args == ("rm -rf /",) and type(record).qualname() == "models.common.Conv"
    with pytest.raises(CheckpointFormatError, match="no 'model'"):
        load_model(path)


def test_truncated_checkpoint_gives_a_clear_error(tmp_path, v5seg_weights):
    data = v5seg_weights.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointFormatError, match="truncated|corrupt"):
        load_model(path)


def test_garbage_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointFormatError, match="not a PyTorch zip checkpoint"):
        load_model(path)


def test_zip_without_pickle_is_refused(tmp_path):
    path = tmp_path / "empty.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointFormatError, match="data.pkl"):
        load_model(path)


def test_unsupported_architecture_is_refused_by_name():
    """A head rtdetect does not implement (YOLOv7's IRSegment) is named in the error."""
    config = build_model("yolov5n-seg").config
    config["head"][-1][2] = "IRSegment"
    with pytest.raises(UnsupportedModelError, match="IRSegment"):
        build_model(config)


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.5 + 0.25)
    return model


@pytest.mark.parametrize("name, end2end", [("yolo11n", False), ("yolov8n-seg", False),
                                           ("yolov10n", False), ("yolo11n-seg", True),
                                           ("yolov5n-seg", False)])
def test_state_dict_round_trips_bit_exactly(tmp_path, name, end2end):
    model = _randomise(build_model(name, end2end=end2end), seed=7)
    path = save_model(model, tmp_path / f"{name}.pt")
    loaded = load_model(path)
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    assert loaded.config == model.config and loaded.names == model.names
    assert (loaded.family, loaded.task, loaded.layout) == (model.family, model.task, model.layout)
    plain = torch.load(path, weights_only=True)  # the format needs no custom classes
    assert plain["rtdetect_format"] == 1 and plain["config"] == model.config


def test_missing_and_misshaped_tensors_are_reported(tmp_path):
    model = build_model("yolov8n", nc=3)
    state = model.state_dict()
    del state["model.22.dfl.conv.weight"]
    path = tmp_path / "broken.pt"
    torch.save({"rtdetect_format": 1, "config": model.config, "names": None, "state_dict": state}, path)
    with pytest.raises(StateDictMismatchError, match="missing key model.22.dfl.conv.weight"):
        load_model(path)
    config = dict(model.config, nc=4)
    torch.save({"rtdetect_format": 1, "config": config, "names": None,
                "state_dict": model.state_dict()}, path)
    with pytest.raises(StateDictMismatchError, match="model.22.cv3.0.2.weight"):
        load_model(path)


def test_unknown_rtdetect_format_version_is_refused(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"rtdetect_format": 99, "config": {}, "state_dict": {}}, path)
    with pytest.raises(UnsupportedModelError, match="99"):
        load_model(path)


def test_training_extras_load_as_inert_data(tmp_path):
    """Trained YOLOv5 checkpoints carry NumPy scalars and option objects: kept inert, not refused."""
    import argparse

    import numpy as np

    path = tmp_path / "extras.pt"
    strided = torch.arange(12.0).view(3, 4).t()
    torch.save({"best_fitness": np.float64(0.5), "opt": argparse.Namespace(epochs=3),
                "blob": b"\x00\xff", "t": strided}, path)
    loaded = safe_load(str(path))
    assert type(loaded["best_fitness"]).qualname().endswith("multiarray.scalar")
    assert type(loaded["opt"]).qualname() == "argparse.Namespace"
    assert loaded["blob"] == b"\x00\xff" and torch.equal(loaded["t"], strided)


def test_codecs_other_than_latin1_are_refused(tmp_path):
    blob = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R."
    path = tmp_path / "codec.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", blob)
    with pytest.raises(UnsafeCheckpointError, match="zlib"):
        safe_load(str(path))
