"""Every Ultralytics family rtdetect imports (YOLOv5u, v8, v9, v10, 11, 12, 26; -seg where Ultralytics
has it) against Ultralytics 8.4's own float32 forward, without Ultralytics installed.

tools/ultralytics_goldens.py builds each model in Ultralytics' venv from Ultralytics' own config, fills
it with seeded weights (``model_helpers.seeded_tensor``: float16-exact, randomised BatchNorm
statistics), saves it with Ultralytics' ``save()``, checks that ``rtdetect export`` of that checkpoint
matches Ultralytics on bus.jpg at 160x160 (it refuses to write goldens otherwise), and stores per
model: the config, the state-dict keys and shapes, and a sample of Ultralytics' outputs. Here we build
the model from that config with the same seeded weights, export it to ONNX and run it with ONNX
Runtime: one-to-many outputs within 1e-4 relative (atol 1e-4), end-to-end top-K rows as sets (rows
with equal scores may come in any order, so the rows ranked exactly at the cut are not compared). The
one-to-many form of end-to-end heads is checked through torch here (its ONNX at generation time).
"""
from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest
import torch

from model_helpers import is_seeded_key, letterbox, seeded_tensor
from rtdetect.models.export import export_onnx
from rtdetect.models.model import YoloModel
from rtdetect.models.variants import one_to_many

GOLDEN = "ultralytics_goldens.npz"
REGENERATE = "regenerate with: python tools/ultralytics_goldens.py"
IMGSZ = 160
RTOL = ATOL = 1e-4
# Family, task and default output layout each checkpoint must import as.
EXPECTED = {
    "yolov5nu": ("yolov8", "detect", "v8"), "yolov8n": ("yolov8", "detect", "v8"),
    "yolov8n-seg": ("yolov8", "segment", "v8"), "yolov9t": ("yolov9", "detect", "v8"),
    "yolov9c-seg": ("yolov9", "segment", "v8"), "yolov10n": ("yolov10", "detect", "e2e"),
    "yolo11n": ("yolo11", "detect", "v8"), "yolo11n-seg": ("yolo11", "segment", "v8"),
    "yolo12n": ("yolo12", "detect", "v8"), "yolo12n-seg": ("yolo12", "segment", "v8"),
    "yolo26n": ("yolo26", "detect", "e2e"), "yolo26n-seg": ("yolo26", "segment", "e2e"),
}


def compare_one_to_many(rows: np.ndarray, sample: dict[str, np.ndarray]) -> None:
    """Our (A, 4 + nc + nm) rows against the golden sample: its anchors, and every column's mean."""
    assert tuple(sample["o2m/shape"])[1:] == rows.T.shape
    np.testing.assert_allclose(rows[sample["o2m/index"]], sample["o2m/rows"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rows.mean(0, dtype=np.float64), sample["o2m/column_mean"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.abs(rows).mean(0, dtype=np.float64), sample["o2m/column_mean_abs"],
                               rtol=RTOL, atol=ATOL)


def compare_e2e(rows: np.ndarray, expected: np.ndarray, k: int) -> None:
    """Our top-K rows (K, 6 + nm) against the reference's first ``k`` rows, as sets.

    Both must be sorted by score; the rows scoring above the reference's k-th score (plus the
    tolerance) must match one to one (boxes, score, class, coefficients within RTOL/ATOL).
    """
    assert np.all(np.diff(rows[:, 4]) <= 0) and np.all(np.diff(expected[:, 4]) <= 0)
    expected = expected[:k]
    cut = expected[-1, 4] + ATOL
    ours, theirs = rows[rows[:, 4] > cut], expected[expected[:, 4] > cut]
    assert len(ours) == len(theirs) > 0, f"{len(ours)} rows above the cut, expected {len(theirs)}"
    unused = np.ones(len(ours), bool)
    for row in theirs:
        close = unused & np.all(np.abs(ours - row) <= ATOL + RTOL * np.abs(row), axis=1)
        assert close.any(), f"no row of ours matches {row[:6]}"
        unused[np.argmax(close)] = False


@pytest.fixture(scope="module")
def golden(data_dir):
    with np.load(data_dir / GOLDEN, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope="module")
def image(data_dir, golden):
    x = letterbox(cv2.imread(str(data_dir / "bus.jpg")), IMGSZ)[0]
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(golden["input_sha256"]), REGENERATE
    return x


def seeded_model(golden: dict[str, np.ndarray], name: str) -> YoloModel:
    """Our model built from Ultralytics' config, with exactly Ultralytics' state-dict keys and shapes."""
    model = YoloModel(json.loads(str(golden[f"{name}/config"])))
    state = model.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == json.loads(str(golden[f"{name}/keys"]))
    model.load_state_dict({k: torch.from_numpy(seeded_tensor(k, tuple(v.shape)))
                           if is_seeded_key(k, v.is_floating_point()) else v for k, v in state.items()})
    return model.eval()


def run_onnx(model: YoloModel, path, image: np.ndarray) -> list[np.ndarray]:
    """Export ``model`` at 160x160 and run ``image`` through ONNX Runtime."""
    import onnxruntime as ort

    export_onnx(model, path, imgsz=(IMGSZ, IMGSZ))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": image})


def test_golden_covers_every_ultralytics_family(golden):
    assert sorted(json.loads(str(golden["models"]))) == sorted(EXPECTED), REGENERATE


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_export_matches_ultralytics(golden, image, name, tmp_path):
    model = seeded_model(golden, name)
    assert (model.family, model.task, model.layout) == EXPECTED[name]
    out = run_onnx(model, tmp_path / "default.onnx", image)
    if model.layout == "e2e":
        assert out[0].shape == tuple(golden[f"{name}/e2e/shape"])
        compare_e2e(out[0][0], golden[f"{name}/e2e/rows"], len(golden[f"{name}/e2e/rows"]))
        if model.task == "segment":
            np.testing.assert_allclose(out[1][0, :, ::8, ::8], golden[f"{name}/e2e/protos"], rtol=RTOL, atol=ATOL)
        # The one-to-many form through torch (tools/ultralytics_goldens.py checks its ONNX export):
        # its export path is the v8 layout's, which the other models run through ONNX Runtime here.
        with torch.no_grad():
            forward = one_to_many(model)(torch.from_numpy(image))
        out = [t.numpy() for t in (forward if isinstance(forward, tuple) else (forward,))]
    sample = {k[len(name) + 1:]: v for k, v in golden.items() if k.startswith(f"{name}/o2m/")}
    compare_one_to_many(out[0][0].T, sample)
    if model.task == "segment":
        assert out[1].shape == tuple(golden[f"{name}/o2m/protos_shape"])
        np.testing.assert_allclose(out[1][0, :, ::8, ::8], golden[f"{name}/o2m/protos"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["yolov9s", "yolov9m", "yolov9e", "yolo12l", "yolo26m-seg"])
def test_other_sizes_have_ultralytics_state_dict_layout(golden, name):
    """Other sizes (multipliers, YOLO12-L's residual A2C2f, YOLOv9-E's CBLinear/CBFuse): the same keys
    and shapes as Ultralytics' (their outputs were checked when the goldens were made)."""
    assert name in json.loads(str(golden["structures"])), REGENERATE
    model = YoloModel(json.loads(str(golden[f"{name}/config"])))
    layout = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert layout == json.loads(str(golden[f"{name}/keys"]))
