"""Importing model checkpoints without running their code, and rtdetect's own saved format.

Supported inputs (all read through :func:`unpickler.safe_load`):
- official YOLOv5 ``.pt`` files (module path ``models.yolo``, anchor-based configs);
- official Ultralytics ``.pt`` files (``ultralytics.*``: YOLOv5u, v8, v9, v10, 11, 12, 26 layouts);
- rtdetect's format: ``{"rtdetect_format": 1, "config", "names", "state_dict"}`` written by
  :func:`save_model` (also readable with ``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from . import config as cfg
from .coco import default_names
from .errors import CheckpointFormatError, UnsupportedModelError
from .records import state_dict_of
from .unpickler import Record, safe_load

RTDETECT_FORMAT = 1
SUPPORTED_ROOTS = {
    "yolov5": ("models.yolo", ("Model", "DetectionModel", "SegmentationModel")),
    "ultralytics": ("ultralytics.nn.tasks", ("DetectionModel", "SegmentationModel")),
}


@dataclass
class CheckpointContents:
    """What a checkpoint says about its model, before building anything.

    ``source``: ``yolov5`` | ``ultralytics`` | ``rtdetect``; ``config``: the layer-list config;
    ``names``: class names (index = class id); ``state_dict``: float32 tensors;
    ``root``: the model record (None for rtdetect's format); ``strides``: recorded strides.
    """

    source: str
    config: dict[str, Any]
    names: list[str]
    state_dict: dict[str, torch.Tensor]
    root: Record | None = None
    strides: tuple[int, ...] = field(default_factory=tuple)


def _names_list(raw: Any, nc: int) -> list[str]:
    """Class names from a list or an {id: name} dict; COCO/generic names when absent or bad."""
    if isinstance(raw, dict) and set(raw) == set(range(nc)):
        return [str(raw[i]) for i in range(nc)]
    if isinstance(raw, (list, tuple)) and len(raw) == nc:
        return [str(n) for n in raw]
    return default_names(nc)


def _model_record(obj: Any, path: str) -> Record:
    if not isinstance(obj, dict):
        raise CheckpointFormatError(f"{path}: checkpoint is a {type(obj).__name__}, not a dict")
    for key in ("ema", "model"):
        if isinstance(obj.get(key), Record):
            return obj[key]
    raise CheckpointFormatError(f"{path}: checkpoint has no 'model' or 'ema' module")


def _source_of(root: Record) -> str:
    for source, (module, classes) in SUPPORTED_ROOTS.items():
        if root.source_module == module and root.source_name in classes:
            return source
    raise UnsupportedModelError(
        f"unsupported model class {root.qualname()}: rtdetect imports YOLOv5 and Ultralytics "
        f"detection/segmentation models")


def _head_record(root: Record) -> Record:
    layers = root.attrs.get("_modules", {}).get("model")
    children = list((layers.attrs.get("_modules") or {}).values()) if isinstance(layers, Record) else []
    if not children or not isinstance(children[-1], Record):
        raise CheckpointFormatError(f"{root.qualname()} has no layer list 'model'")
    return children[-1]


def _config_of(root: Record, source: str, head: Record) -> dict[str, Any]:
    raw = root.attrs.get("yaml")
    if not isinstance(raw, dict):
        raise UnsupportedModelError(f"{root.qualname()} carries no config ('yaml' dict)")
    config = copy.deepcopy(raw)
    if isinstance(head.attrs.get("nc"), int):
        config["nc"] = head.attrs["nc"]
    if (source == "yolov5") != cfg.is_anchor_based(config):
        raise UnsupportedModelError(f"{root.qualname()}: config anchors do not match the "
                                    f"{source} layout")
    head_modules = head.attrs.get("_modules") or {}
    if "one2one_cv2" in head_modules and cfg.head_name(config) != "v10Detect":
        config["end2end"] = True
    if head.source_name != cfg.head_name(config):
        raise UnsupportedModelError(
            f"head class {head.qualname()} does not match the config head {cfg.head_name(config)!r}")
    return config


def _from_record(root: Record) -> CheckpointContents:
    source = _source_of(root)
    head = _head_record(root)
    config = _config_of(root, source, head)
    stride = root.attrs.get("stride")
    strides = tuple(int(s) for s in stride.tolist()) if isinstance(stride, torch.Tensor) else ()
    names = _names_list(root.attrs.get("names"), int(config["nc"]))
    return CheckpointContents(source, config, names, state_dict_of(root), root, strides)


def _from_rtdetect(obj: Mapping[str, Any], path: str) -> CheckpointContents:
    if obj.get("rtdetect_format") != RTDETECT_FORMAT:
        raise UnsupportedModelError(f"{path}: rtdetect format {obj.get('rtdetect_format')!r} "
                                    f"is not supported (expected {RTDETECT_FORMAT})")
    config, state = obj.get("config"), obj.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise CheckpointFormatError(f"{path}: rtdetect checkpoint lacks 'config' or 'state_dict'")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointFormatError(f"{path}: rtdetect checkpoint state_dict holds non-tensors")
    names = _names_list(obj.get("names"), int(config.get("nc", 0)))
    return CheckpointContents("rtdetect", copy.deepcopy(config), names, dict(state))


def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointContents:
    """Read a ``.pt`` file safely (see module docstring); nothing in it is executed."""
    path = os.fspath(path)
    obj = safe_load(path)
    if isinstance(obj, dict) and "rtdetect_format" in obj:
        return _from_rtdetect(obj, path)
    return _from_record(_model_record(obj, path))
