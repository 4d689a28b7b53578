"""Resolve a config's layer rows into :class:`LayerSpec` s: scaled channels, repeats, strides.

This is pure bookkeeping (no torch): it applies the depth/width multiples the way the official
builders do, tracks every layer's output channels and stride, and refuses unknown blocks.
"""
from __future__ import annotations

from typing import Any, Mapping

from .config import (CHANNEL_BLOCKS, HEAD_BLOCKS, KNOWN_BLOCKS, PASS_BLOCKS, REPEAT_BLOCKS,
                     SEGMENT_HEADS, UPSAMPLE_NAMES,
                     LayerSpec, Scaling, is_anchor_based, layer_rows, make_divisible, resolve_arg,
                     scaling_of)
from .errors import UnsupportedModelError

STRIDED_BLOCKS = frozenset({"Conv", "DWConv", "SCDown"})  # stride is args[3] after scaling
HALVING_BLOCKS = frozenset({"AConv", "ADown"})  # always stride 2
UPSAMPLE_MODES = frozenset({"nearest", "nearest-exact", "bilinear", "bicubic"})


def _sources(index: int, raw_from: Any) -> tuple[tuple[int, ...], bool]:
    """Absolute input indices of layer ``index`` (-1 = the image only for layer 0)."""
    listed = isinstance(raw_from, (list, tuple))
    items = list(raw_from) if listed else [raw_from]
    out = []
    for item in items:
        if not isinstance(item, int):
            raise UnsupportedModelError(f"layer {index}: 'from' must be ints, got {raw_from!r}")
        absolute = item if item >= 0 else index + item
        if absolute >= index or (absolute < 0 and index != 0):
            raise UnsupportedModelError(f"layer {index}: 'from' {raw_from!r} is out of range")
        out.append(absolute)
    return tuple(out), listed


def _depth(repeats: int, scaling: Scaling) -> int:
    return max(round(repeats * scaling.depth), 1) if repeats > 1 else repeats


class _Resolver:
    """Walks the rows once, keeping the per-layer channel and stride lists."""

    def __init__(self, config: Mapping[str, Any], in_channels: int) -> None:
        self.config = config
        self.in_channels = in_channels
        self.scaling = scaling_of(config)
        self.nc = int(config["nc"]) if "nc" in config else 80
        self.anchor_based = is_anchor_based(config)
        self.legacy = True
        self.channels: list[int] = []
        self.strides: list[int] = []

    def unscaled_output_width(self) -> int:
        """Channel value that the builders leave unscaled (the raw head output)."""
        if not self.anchor_based:
            return self.nc
        anchors = self.config["anchors"]
        na = len(anchors[0]) // 2 if isinstance(anchors, (list, tuple)) else int(anchors)
        return na * (self.nc + 5)

    def width(self, c2: int) -> int:
        if c2 == self.unscaled_output_width():
            return c2
        return make_divisible(min(c2, self.scaling.max_channels) * self.scaling.width, 8)

    def inputs(self, sources: tuple[int, ...]) -> tuple[list[int], list[int]]:
        chans = [self.in_channels if s < 0 else self.channels[s] for s in sources]
        strides = [1 if s < 0 else self.strides[s] for s in sources]
        return chans, strides

    def row(self, index: int, row: list[Any], last: bool) -> LayerSpec:
        raw_from, raw_n, name, raw_args = row
        if name not in KNOWN_BLOCKS:
            raise UnsupportedModelError(
                f"unknown block {name!r} at layer {index}; supported: {sorted(KNOWN_BLOCKS)}")
        if (name in HEAD_BLOCKS) != last:
            raise UnsupportedModelError(f"layer {index}: a head ({sorted(HEAD_BLOCKS)}) must be "
                                        f"the last layer, and only the last, got {name!r}")
        sources, listed = _sources(index, raw_from)
        args = [resolve_arg(a, self.config) for a in raw_args]
        repeats = _depth(raw_n, self.scaling)
        chans, strides = self.inputs(sources)
        kwargs: dict[str, Any] = {}
        if name in CHANNEL_BLOCKS:
            args, c2, stride, repeats = self._channel_block(index, name, args, chans, strides, repeats)
            if name == "SPPF":  # rows of up to [c2, k] predate YOLO26's linear cv1
                kwargs = {"cv1_act": len(args) <= 3}
        elif name == "CBLinear":
            args = [chans[0], *args]
            c2, stride = sum(int(c) for c in args[1]), strides[0]
        elif name == "CBFuse":
            c2, stride = chans[-1], strides[-1]
        elif name == "Concat":
            c2, stride = sum(chans), self._common_stride(index, strides)
        elif name in PASS_BLOCKS:
            c2, stride = chans[0], strides[0] * PASS_BLOCKS[name]
        elif name in UPSAMPLE_NAMES:
            c2, stride = chans[0], self._upsampled_stride(index, args, strides[0])
        else:
            args, kwargs = self._head(name, args, chans, strides)
            c2, stride = 0, max(strides)
        self.channels.append(c2)
        self.strides.append(stride)
        return LayerSpec(index, sources, listed, repeats, name, tuple(args), c2, stride, kwargs)

    def _channel_block(self, index: int, name: str, args: list[Any], chans: list[int],
                       strides: list[int], repeats: int) -> tuple[list[Any], int, int, int]:
        if len(chans) != 1 or not args:
            raise UnsupportedModelError(f"layer {index}: {name} takes one input and a channel arg")
        c2 = self.width(int(args[0]))
        args = [chans[0], c2, *args[1:]]
        if name in REPEAT_BLOCKS:
            args.insert(2, repeats)
            repeats = 1
        if name == "C3k2" and not self.anchor_based:
            self.legacy = False
            if self.scaling.scale in ("m", "l", "x"):
                args = (args + [False])[:max(len(args), 4)]
                args[3] = True
        if name == "A2C2f":
            self.legacy = False
            if self.scaling.scale in ("l", "x"):
                args = [*args, True, 1.2]  # residual, mlp_ratio
        step = int(args[3]) if name in STRIDED_BLOCKS and len(args) > 3 else 1
        step = 2 if name in HALVING_BLOCKS else step
        return args, c2, strides[0] * step, repeats

    @staticmethod
    def _common_stride(index: int, strides: list[int]) -> int:
        if len(set(strides)) != 1:
            raise UnsupportedModelError(f"layer {index}: Concat of maps with strides {strides}")
        return strides[0]

    @staticmethod
    def _upsampled_stride(index: int, args: list[Any], stride: int) -> int:
        """Only ``[None, factor, mode]`` with an integer factor that divides the stride."""
        size, factor, mode = (list(args) + [None, None, "nearest"][len(args):])[:3]
        if (size is not None or not isinstance(factor, (int, float)) or factor <= 0
                or stride % factor or mode not in UPSAMPLE_MODES):
            raise UnsupportedModelError(f"layer {index}: unsupported Upsample args {args!r}")
        return int(stride // factor)

    def _head(self, name: str, args: list[Any], chans: list[int],
              strides: list[int]) -> tuple[list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"strides": tuple(strides)}
        if self.anchor_based:
            if name not in ("Detect", *SEGMENT_HEADS):
                raise UnsupportedModelError(f"head {name!r} cannot be anchor-based")
            if name in SEGMENT_HEADS:
                args[3] = make_divisible(args[3] * self.scaling.width, 8)
            return [*args, chans], kwargs
        if name == "ISegment":
            raise UnsupportedModelError("head 'ISegment' needs the config's anchors")
        if name in ("Segment", "Segment26"):
            args[2] = make_divisible(min(args[2], self.scaling.max_channels) * self.scaling.width, 8)
        kwargs["reg_max"] = int(self.config.get("reg_max", 16))
        kwargs["end2end"] = name == "v10Detect" or bool(self.config.get("end2end", False))
        kwargs["dw_cls"] = name == "v10Detect" or not self.legacy
        return [*args, chans], kwargs


def resolve_layers(config: Mapping[str, Any], in_channels: int = 3) -> list[LayerSpec]:
    """All layers of ``config`` resolved in order; the last one is the head."""
    rows = layer_rows(config)
    resolver = _Resolver(config, in_channels)
    return [resolver.row(i, row, i == len(rows) - 1) for i, row in enumerate(rows)]
