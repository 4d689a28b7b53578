"""Architectures built from the built-in configs: parameter counts and state-dict keys of the
official models, output layouts, and config handling."""
from __future__ import annotations

import pytest
import torch

from rtdetect.models import build_model, builtin_config, builtin_names
from rtdetect.models.errors import UnsupportedModelError
from rtdetect.models.model import YoloModel

# Parameter counts printed by the official model summaries.
OFFICIAL_PARAMS = {
    "yolov5n": 1_872_157, "yolov5s": 7_235_389, "yolov8n": 3_157_200, "yolov8n-seg": 3_409_968,
    "yolo11n": 2_624_080, "yolo11n-seg": 2_876_848, "yolov10n": 2_775_520,
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMS))
def test_parameter_count_matches_official(name):
    assert n_params(build_model(name)) == OFFICIAL_PARAMS[name]


@pytest.mark.parametrize("name, keys", [
    ("yolov5s-seg", {"model.0.conv.weight": (32, 3, 6, 6), "model.24.m.0.weight": (351, 128, 1, 1),
                     "model.24.anchors": (3, 3, 2), "model.24.proto.cv1.conv.weight": (128, 128, 3, 3)}),
    ("yolov8n", {"model.22.cv2.0.0.conv.weight": (64, 64, 3, 3), "model.22.dfl.conv.weight": (1, 16, 1, 1),
                 "model.22.cv3.0.2.weight": (80, 80, 1, 1), "model.2.m.0.cv1.conv.weight": (16, 16, 3, 3)}),
    ("yolo11n", {"model.23.cv3.0.0.0.conv.weight": (64, 1, 3, 3), "model.23.cv3.0.0.1.conv.weight": (80, 64, 1, 1),
                 "model.2.m.0.cv1.conv.weight": (8, 16, 3, 3), "model.10.m.0.attn.qkv.conv.weight": (256, 128, 1, 1),
                 "model.10.m.0.attn.pe.conv.weight": (128, 1, 3, 3)}),
    ("yolo11m", {"model.2.m.0.m.0.cv1.conv.weight": (32, 32, 3, 3), "model.2.m.0.cv3.conv.weight": (64, 64, 1, 1)}),
    ("yolo11n-seg", {"model.23.proto.upsample.weight": (64, 64, 2, 2), "model.23.cv4.0.2.weight": (32, 32, 1, 1)}),
    ("yolov10n", {"model.23.one2one_cv3.0.0.0.conv.weight": (64, 1, 3, 3), "model.5.cv2.conv.weight": (128, 1, 3, 3)}),
])
def test_state_dict_keys_follow_official_names(name, keys):
    state = build_model(name).state_dict()
    for key, shape in keys.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key


@pytest.mark.parametrize("name, shapes, layout", [
    ("yolov5n", [(1, 3 * (8 * 12 + 4 * 6 + 2 * 3), 85)], "v5"),
    ("yolov5n-seg", [(1, 3 * 126, 117), (1, 32, 16, 24)], "v5"),
    ("yolov8n", [(1, 84, 126)], "v8"),
    ("yolov8n-seg", [(1, 116, 126), (1, 32, 16, 24)], "v8"),
    ("yolo11n", [(1, 84, 126)], "v8"),
    ("yolo11n-seg", [(1, 116, 126), (1, 32, 16, 24)], "v8"),
    ("yolov10n", [(1, 126, 6)], "e2e"),
])
def test_eval_output_layouts(name, shapes, layout):
    model = build_model(name)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 96))
    outs = list(out) if isinstance(out, tuple) else [out]
    assert [tuple(o.shape) for o in outs] == shapes
    assert model.layout == layout and model.strides == (8, 16, 32)


def test_end_to_end_rows_are_sorted_topk_of_the_one2one_branch():
    torch.manual_seed(0)
    model = build_model("yolo11n-seg", end2end=True)
    with torch.no_grad():
        rows, protos = model(torch.rand(2, 3, 160, 160))
    assert rows.shape == (2, 300, 38) and protos.shape == (2, 32, 40, 40)
    scores, classes = rows[..., 4], rows[..., 5]
    assert torch.all(scores[:, :-1] >= scores[:, 1:])
    assert torch.all((classes >= 0) & (classes < 80) & (classes == classes.round()))
    assert torch.all(rows[..., 2] >= rows[..., 0]) and torch.all(rows[..., 3] >= rows[..., 1])


def test_end_to_end_k_is_capped_by_anchor_count():
    model = build_model("yolov10n", nc=3)
    with torch.no_grad():
        rows = model(torch.rand(1, 3, 64, 64))  # 64 + 16 + 4 = 84 anchors < 300
    assert rows.shape == (1, 84, 6)


def test_every_builtin_config_builds():
    for name in builtin_names():
        config = builtin_config(name)
        assert config["backbone"] and config["head"]
    assert len(builtin_names()) == 31


def test_unknown_block_is_refused_with_its_name():
    config = builtin_config("yolov8n")
    config["backbone"][2] = [-1, 3, "C2fFancy", [128, True]]
    with pytest.raises(UnsupportedModelError, match="C2fFancy"):
        YoloModel(config)


def test_unknown_head_is_refused():
    config = builtin_config("yolov8n")
    config["head"][-1] = [[15, 18, 21], 1, "Pose", ["nc", [17, 3]]]
    with pytest.raises(UnsupportedModelError, match="Pose"):
        YoloModel(config)


def test_string_args_are_never_evaluated(tmp_path):
    marker = tmp_path / "evaluated"
    config = builtin_config("yolov8n")
    config["head"][0] = [-1, 1, "nn.Upsample", [f"open({str(marker)!r}, 'w')", 2, "nearest"]]
    with pytest.raises(UnsupportedModelError, match="Upsample"):
        YoloModel(config)
    assert not marker.exists()
