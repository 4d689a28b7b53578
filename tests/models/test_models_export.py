"""ONNX export of every head form from configs (seeded random weights): layouts, metadata,
BatchNorm folding, dynamic axes, float16, and atomic writes."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from rtdetect.models import build_model, export_onnx, read_onnx_metadata
from rtdetect.models.errors import ModelError

IMGSZ = (128, 160)  # small and non-square: 420 anchors


def run_onnx(path, x):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": x})


def seeded(name, **kwargs):
    torch.manual_seed(0)
    return build_model(name, **kwargs)


@pytest.mark.parametrize("name, end2end, family, task, layout, shapes", [
    ("yolo11n", False, "yolo11", "detect", "v8", [(1, 84, 420)]),
    ("yolo11n-seg", False, "yolo11", "segment", "v8", [(1, 116, 420), (1, 32, 32, 40)]),
    ("yolov8n-seg", False, "yolov8", "segment", "v8", [(1, 116, 420), (1, 32, 32, 40)]),
    ("yolov10n", False, "yolov10", "detect", "e2e", [(1, 300, 6)]),
    ("yolo11n-seg", True, "yolo11", "segment", "e2e", [(1, 300, 38), (1, 32, 32, 40)]),
])
def test_export_layouts_metadata_and_parity(tmp_path, name, end2end, family, task, layout, shapes):
    model = seeded(name, end2end=end2end)
    path = export_onnx(model, tmp_path / "m.onnx", imgsz=IMGSZ)
    x = np.random.default_rng(0).random((1, 3, *IMGSZ), dtype=np.float32)
    outs = run_onnx(path, x)
    assert [o.shape for o in outs] == shapes
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    ref = [t.numpy() for t in (ref if isinstance(ref, tuple) else (ref,))]
    if layout == "e2e":  # top-K order can swap near-ties: compare the scores, sorted
        assert np.abs(outs[0][..., 4] - ref[0][..., 4]).max() <= 1e-4
    else:
        for got, want in zip(outs, ref):
            assert np.abs(got - want).max() <= 1e-3
    meta = read_onnx_metadata(path)
    assert (meta["rtdetect.family"], meta["rtdetect.task"], meta["rtdetect.layout"]) == (family, task, layout)
    assert meta["rtdetect.num_classes"] == 80 and len(meta["rtdetect.names"]) == 80
    assert meta["rtdetect.num_masks"] == (32 if task == "segment" else 0)
    assert meta["rtdetect.stride"] == 32 and meta["rtdetect.imgsz"] == list(IMGSZ)
    assert meta["rtdetect.dynamic"] is False and meta["rtdetect.version"]
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version == 17
    assert not [n for n in graph.graph.node if n.op_type == "BatchNormalization"]
    assert [i.name for i in graph.graph.input] == ["images"]
    assert [o.name for o in graph.graph.output] == ["output0", "output1"][:len(shapes)]


def test_dynamic_export_runs_other_batches_and_sizes(tmp_path):
    model = seeded("yolov5n-seg")
    path = export_onnx(model, tmp_path / "dyn.onnx", imgsz=IMGSZ, dynamic=True)
    assert read_onnx_metadata(path)["rtdetect.dynamic"] is True
    for shape in [(2, 3, 96, 64), (1, 3, 160, 224)]:
        x = np.random.default_rng(1).random(shape, dtype=np.float32)
        rows, protos = run_onnx(path, x)
        cells = sum((shape[2] // s) * (shape[3] // s) for s in (8, 16, 32))
        assert rows.shape == (shape[0], 3 * cells, 117)
        assert protos.shape == (shape[0], 32, shape[2] // 4, shape[3] // 4)
        with torch.no_grad():
            ref = model(torch.from_numpy(x))[0].numpy()
        assert np.abs(rows - ref).max() <= 1e-3


def test_half_export_takes_and_returns_float16(tmp_path):
    model = seeded("yolo11n")
    path = export_onnx(model, tmp_path / "half.onnx", imgsz=(64, 96), half=True)
    x = np.random.default_rng(2).random((1, 3, 64, 96), dtype=np.float32)
    (out,) = run_onnx(path, x.astype(np.float16))
    assert out.dtype == np.float16 and out.shape == (1, 84, 126)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(out[:, 4:].astype(np.float32) - ref[:, 4:]).max() <= 1e-2


def test_failed_export_leaves_the_previous_file_and_no_temp(tmp_path, monkeypatch):
    from rtdetect.models import export as export_module

    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_module, "_write_metadata", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_onnx(seeded("yolov8n", nc=2), target, imgsz=(64, 64))
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.parametrize("kwargs, message", [({"imgsz": (100, 128)}, "multiples"),
                                             ({"opset": 9}, "opset")])
def test_bad_export_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export_onnx(seeded("yolov8n", nc=2), tmp_path / "x.onnx", **kwargs)


def test_metadata_reader_refuses_foreign_onnx(tmp_path):
    path = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.ReLU(), (torch.zeros(1, 3),), str(path), dynamo=False, opset_version=17)
    with pytest.raises(ModelError, match="lacks rtdetect metadata"):
        read_onnx_metadata(path)
