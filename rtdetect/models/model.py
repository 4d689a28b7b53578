"""``YoloModel``: the layer list of a config built into one module (backbone -> neck -> head).

State-dict keys are ``model.<layer index>.<...>`` exactly as in the official checkpoints.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from . import config as cfg
from .attention import C2PSA, PSA, C3k2
from .config import LayerSpec
from .errors import UnsupportedModelError
from .heads import Detect, Segment
from .heads_v5 import V5Detect, V5Segment
from .heads_v26 import Segment26
from .layers import C2f, C3, C3k, SPPF, Bottleneck, Concat, Conv, dw_conv
from .resolve import resolve_layers
from .v10_blocks import SCDown, C2fCIB
from .v12_blocks import A2C2f
from .v7_blocks import MP, SPPCSPC, V7Segment
from .v9_blocks import ADown, AConv, CBFuse, CBLinear, ELAN1, RepNCSPELAN4, SPPELAN

BLOCKS: Mapping[str, Callable[..., nn.Module]] = {
    "Conv": Conv, "DWConv": dw_conv, "Bottleneck": Bottleneck, "C3": C3, "C3k": C3k, "C2f": C2f,
    "C3k2": C3k2, "SPPF": SPPF, "C2PSA": C2PSA, "SCDown": SCDown, "C2fCIB": C2fCIB, "PSA": PSA,
    "Concat": Concat, "MP": MP, "SPPCSPC": SPPCSPC, "nn.Identity": nn.Identity,
    "RepNCSPELAN4": RepNCSPELAN4, "ELAN1": ELAN1, "AConv": AConv, "ADown": ADown, "SPPELAN": SPPELAN,
    "CBLinear": CBLinear, "CBFuse": CBFuse, "A2C2f": A2C2f,
}


def _upsample(size: Any = None, scale_factor: Any = None, mode: str = "nearest") -> nn.Module:
    return nn.Upsample(size=size, scale_factor=scale_factor, mode=mode)


def _head_factory(name: str, anchor_based: bool) -> Callable[..., nn.Module]:
    if anchor_based:
        return {"Segment": V5Segment, "ISegment": V7Segment}.get(name, V5Detect)
    return {"Segment": Segment, "Segment26": Segment26}.get(name, Detect)


def _build_layer(spec: LayerSpec, anchor_based: bool) -> nn.Module:
    if spec.name in cfg.UPSAMPLE_NAMES:
        factory: Callable[..., nn.Module] = _upsample
    elif spec.name in cfg.HEAD_BLOCKS:
        factory = _head_factory(spec.name, anchor_based)
    else:
        factory = BLOCKS[spec.name]
    try:
        modules = [factory(*spec.args, **spec.kwargs) for _ in range(spec.repeats)]
    except (TypeError, ValueError) as exc:
        raise UnsupportedModelError(
            f"layer {spec.index} ({spec.name}) cannot be built from args {spec.args!r}: {exc}") from None
    return nn.Sequential(*modules) if spec.repeats > 1 else modules[0]


class YoloModel(nn.Module):
    """A YOLO network built from a layer-list config.

    ``forward(images)`` takes (B, in_channels, H, W) float (H, W multiples of ``max_stride``) and
    returns the head's eval output (see ``heads``/``heads_v5``): a tensor, or ``(rows, protos)``
    for segmentation heads. There is no training mode output.
    """

    def __init__(self, config: Mapping[str, Any], *, names: Sequence[str] | None = None,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.config = copy.deepcopy(dict(config))
        self.specs = resolve_layers(self.config, in_channels)
        anchor_based = cfg.is_anchor_based(self.config)
        self.model = nn.Sequential(*(_build_layer(s, anchor_based) for s in self.specs))
        self.keep = {src for s in self.specs for src in s.sources if src >= 0 and src != s.index - 1}
        self.family = cfg.family_of(self.config)
        self.task = cfg.task_of(self.config)
        self.layout = cfg.layout_of(self.config)
        self.in_channels = in_channels
        head = self.head
        self.num_classes = int(head.nc)
        self.num_masks = int(head.nm)
        self.strides = tuple(int(s) for s in self.specs[-1].kwargs["strides"])
        self.names = list(names) if names is not None else None
        self.source = "config"  # or the checkpoint kind it was imported from

    @property
    def head(self) -> nn.Module:
        """The last layer (Detect/Segment/V5Detect/V5Segment)."""
        return self.model[-1]

    @property
    def max_stride(self) -> int:
        return max(self.strides)

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        saved: dict[int, torch.Tensor] = {}
        x = images
        for spec, layer in zip(self.specs, self.model):
            if spec.from_list:
                inputs: Any = [x if src == spec.index - 1 else saved[src] for src in spec.sources]
            elif spec.sources[0] != spec.index - 1:
                inputs = saved[spec.sources[0]]
            else:
                inputs = x
            x = layer(inputs)
            if spec.index in self.keep:
                saved[spec.index] = x
        return x
