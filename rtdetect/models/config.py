"""Reading the de-facto YOLO layer-list config format into resolved layer specs.

A config is a plain dict (JSON/YAML data): ``nc``, either ``depth_multiple``/``width_multiple`` or
``scales`` + ``scale`` (``{"n": [depth, width, max_channels], ...}``), ``anchors`` (YOLOv5 only),
and ``backbone`` + ``head`` lists of ``[from, repeats, block_name, args]``. Strings in ``args`` are
resolved without ``eval``: ``nc``/``anchors`` name the config values, ``None``/``True``/``False``
and numbers are literals, anything else (``"nearest"``) stays a string.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import UnsupportedModelError

# Blocks whose first arg is an output channel count scaled by the width multiple.
CHANNEL_BLOCKS = frozenset({
    "Conv", "DWConv", "Bottleneck", "C3", "C3k", "C2f", "C3k2", "SPPF", "C2PSA",
    "SCDown", "C2fCIB", "PSA", "SPPCSPC", "RepNCSPELAN4", "ELAN1", "AConv", "ADown", "SPPELAN",
    "A2C2f",
})
# Of those, the ones that take the (depth-scaled) repeat count as their third argument.
REPEAT_BLOCKS = frozenset({"C3", "C3k", "C2f", "C3k2", "C2PSA", "C2fCIB", "A2C2f"})
UPSAMPLE_NAMES = frozenset({"nn.Upsample", "torch.nn.Upsample", "Upsample"})
HEAD_BLOCKS = frozenset({"Detect", "Segment", "v10Detect", "ISegment", "Segment26"})
SEGMENT_HEADS = frozenset({"Segment", "ISegment", "Segment26"})
# Blocks that keep their input's channels; the value is the factor they multiply the stride by.
PASS_BLOCKS = {"MP": 2, "nn.Identity": 1}
# YOLOv9-E's auxiliary branch: CBLinear splits a map into pieces, CBFuse sums resized pieces.
MULTI_BLOCKS = frozenset({"CBLinear", "CBFuse"})
V10_BLOCKS = frozenset({"SCDown", "PSA", "C2fCIB", "v10Detect"})
V11_BLOCKS = frozenset({"C3k2", "C2PSA"})
V7_BLOCKS = frozenset({"ISegment", "SPPCSPC", "MP"})
V9_BLOCKS = frozenset({"RepNCSPELAN4", "ELAN1", "AConv", "ADown", "SPPELAN", "CBLinear", "CBFuse"})
V12_BLOCKS = frozenset({"A2C2f"})
KNOWN_BLOCKS = (CHANNEL_BLOCKS | UPSAMPLE_NAMES | HEAD_BLOCKS | set(PASS_BLOCKS) | MULTI_BLOCKS
                | {"Concat"})


@dataclass(frozen=True)
class Scaling:
    """Depth and width multiples, channel cap, and the size letter they came from (or None)."""

    depth: float
    width: float
    max_channels: float
    scale: str | None


@dataclass(frozen=True)
class LayerSpec:
    """One resolved layer: constructor args after scaling, absolute input indices, output info.

    ``sources`` are absolute layer indices (-1 means the network input, only for layer 0);
    ``stride`` is the cumulative downsampling of the layer's output relative to the input.
    """

    index: int
    sources: tuple[int, ...]
    from_list: bool
    repeats: int
    name: str
    args: tuple[Any, ...]
    out_channels: int
    stride: int
    kwargs: Mapping[str, Any]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Smallest multiple of ``divisor`` that is >= ``value``."""
    return int(math.ceil(value / divisor) * divisor)


def scaling_of(config: Mapping[str, Any]) -> Scaling:
    """The :class:`Scaling` of a config (``scales``+``scale`` or the two multiples)."""
    scales = config.get("scales")
    if scales:
        scale = config.get("scale") or next(iter(scales))
        if scale not in scales:
            raise UnsupportedModelError(f"config scale {scale!r} is not one of {sorted(scales)}")
        depth, width, max_channels = (list(scales[scale]) + [float("inf")])[:3]
        return Scaling(float(depth), float(width), float(max_channels), str(scale))
    try:
        depth = float(config.get("depth_multiple", 1.0))
        width = float(config.get("width_multiple", 1.0))
    except (TypeError, ValueError) as exc:
        raise UnsupportedModelError(f"config has non-numeric multiples: {exc}") from None
    return Scaling(depth, width, float("inf"), None)


def is_anchor_based(config: Mapping[str, Any]) -> bool:
    """True for the YOLOv5 layout (the config lists anchors)."""
    return config.get("anchors") is not None


def layer_rows(config: Mapping[str, Any]) -> list[list[Any]]:
    """The ``backbone + head`` rows, each checked to be ``[from, repeats, name, args]``."""
    rows = list(config.get("backbone") or []) + list(config.get("head") or [])
    if not rows:
        raise UnsupportedModelError("config has no 'backbone'/'head' layer lists")
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != 4 or not isinstance(row[3], (list, tuple)):
            raise UnsupportedModelError(f"config layer {i} is not [from, repeats, module, args]: {row!r}")
        if not isinstance(row[2], str) or not isinstance(row[1], int):
            raise UnsupportedModelError(f"config layer {i} has a bad module name or repeat count: {row!r}")
    return [list(row) for row in rows]


def block_names(config: Mapping[str, Any]) -> list[str]:
    """The block name of every layer, in order."""
    return [row[2] for row in layer_rows(config)]


def head_name(config: Mapping[str, Any]) -> str:
    """The name of the last layer, which must be a supported head."""
    name = block_names(config)[-1]
    if name not in HEAD_BLOCKS:
        raise UnsupportedModelError(
            f"unsupported head {name!r}: rtdetect supports {sorted(HEAD_BLOCKS)}")
    return name


def family_of(config: Mapping[str, Any]) -> str:
    """``yolov7`` (its blocks), ``yolov5`` (anchors), ``yolov9`` (GELAN blocks), ``yolov10`` (v10
    blocks), ``yolo12`` (A2C2f), ``yolo26`` (Segment26, or an end-to-end head without DFL),
    ``yolo11`` (C3k2/C2PSA) or ``yolov8``."""
    names = set(block_names(config))
    if names & V7_BLOCKS:
        return "yolov7"
    if is_anchor_based(config):
        return "yolov5"
    if names & V9_BLOCKS:
        return "yolov9"
    if names & V10_BLOCKS:
        return "yolov10"
    if names & V12_BLOCKS:
        return "yolo12"
    if "Segment26" in names or (int(config.get("reg_max", 16)) == 1 and config.get("end2end")):
        return "yolo26"
    if names & V11_BLOCKS:
        return "yolo11"
    return "yolov8"


def task_of(config: Mapping[str, Any]) -> str:
    """``segment`` for a Segment/ISegment head, else ``detect``."""
    return "segment" if head_name(config) in SEGMENT_HEADS else "detect"


def is_end_to_end(config: Mapping[str, Any]) -> bool:
    """True when the head emits top-K final detections (v10Detect, or ``end2end: true``)."""
    return head_name(config) == "v10Detect" or bool(config.get("end2end", False))


def layout_of(config: Mapping[str, Any]) -> str:
    """Output layout: ``v5`` (anchors+objectness), ``e2e`` (top-K) or ``v8`` (anchor-free)."""
    if is_anchor_based(config):
        return "v5"
    return "e2e" if is_end_to_end(config) else "v8"


def resolve_arg(value: Any, config: Mapping[str, Any]) -> Any:
    """Resolve one config arg without eval (see module docstring)."""
    if not isinstance(value, str):
        return value
    if value in ("nc", "anchors"):
        if config.get(value) is None:
            raise UnsupportedModelError(f"config layer args use {value!r} but the config has none")
        return config[value]
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
