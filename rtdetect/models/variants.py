"""Deriving model variants from loaded weights: the detection-only form of a segmentation model."""
from __future__ import annotations

import copy

import torch

from . import config as cfg
from .errors import UnsupportedModelError
from .loader import load_state_strict
from .model import YoloModel


def _detect_head_row(config: dict) -> list:
    """The config's Segment row rewritten as the matching Detect row."""
    source, repeats, _, args = config["head"][-1]
    if cfg.is_anchor_based(config):
        return [source, repeats, "Detect", list(args[:2])]  # [nc, anchors]
    return [source, repeats, "Detect", list(args[:1])]  # [nc]


def _v5_head_tensor(key: str, tensor: torch.Tensor, head: str, na: int, keep: int) -> torch.Tensor:
    """Keep the first ``keep`` outputs of each anchor's block in a YOLOv5 output conv."""
    if not key.startswith(f"{head}.m.") or key.endswith("anchors"):
        return tensor
    per_anchor = tensor.shape[0] // na
    blocks = tensor.reshape(na, per_anchor, *tensor.shape[1:])
    return blocks[:, :keep].reshape(na * keep, *tensor.shape[1:]).clone()


def detection_variant(model: YoloModel) -> YoloModel:
    """The detection-only model sharing ``model``'s detection weights (no Proto, no coefs).

    Its output equals the segmentation output without the mask-coefficient columns.
    """
    if model.task != "segment":
        raise UnsupportedModelError(f"model is already a {model.task} model")
    config = copy.deepcopy(model.config)
    config["head"][-1] = _detect_head_row(config)
    det = YoloModel(config, names=model.names, in_channels=model.in_channels)
    head = f"model.{len(model.specs) - 1}"
    drop = (f"{head}.proto.", f"{head}.cv4.", f"{head}.one2one_cv4.")
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(drop)}
    if model.layout == "v5":
        na, keep = int(model.head.na), 5 + model.num_classes
        state = {k: _v5_head_tensor(k, v, head, na, keep) for k, v in state.items()}
    load_state_strict(det, state)
    source_modules = dict(model.named_modules())
    for name, module in det.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eps = source_modules[name].eps
    det.source = getattr(model, "source", "rtdetect")
    return det.float().eval()


def one_to_many(model: YoloModel) -> YoloModel:
    """The one-to-many (NMS) form of an end-to-end model (YOLOv10, YOLO26, ``end2end`` heads).

    Same weights; the head runs its ``cv2``/``cv3`` (``cv4``) branches and emits the ``v8`` layout
    (B, 4 + nc + nm, A) with xywh boxes, which needs NMS.
    """
    if model.layout != "e2e":
        raise UnsupportedModelError(f"model has no end-to-end head (layout {model.layout!r})")
    variant = copy.deepcopy(model)
    variant.head.end2end = False
    variant.layout = "v8"
    return variant.eval()
