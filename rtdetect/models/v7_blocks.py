"""YOLOv7 blocks (the official ``yolov7-seg`` layout): MP, SPPCSPC and the implicit-knowledge
``ISegment`` head.

Attribute names follow the official checkpoint so that its state dict loads strictly. Tensors are
float (B, C, H, W).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .heads_v5 import V5Segment
from .layers import Conv


class MP(nn.Module):
    """2x2 stride-2 max pooling: (B, C, H, W) -> (B, C, H/2, W/2)."""

    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.m = nn.MaxPool2d(kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m(x)


class SPPCSPC(nn.Module):
    """CSP spatial pyramid pooling: (B, c1, H, W) -> (B, c2, H, W).

    One branch is 1x1 -> 3x3 -> 1x1, then max pools of sizes ``k`` concatenated with their input,
    then 1x1 -> 3x3; the other is a 1x1; both are concatenated and fused by a 1x1.
    """

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1,
                 e: float = 0.5, k: Sequence[int] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = int(2 * c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(c1, hidden, 1, 1)
        self.cv3 = Conv(hidden, hidden, 3, 1)
        self.cv4 = Conv(hidden, hidden, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(kernel_size=size, stride=1, padding=size // 2) for size in k)
        self.cv5 = Conv(4 * hidden, hidden, 1, 1)
        self.cv6 = Conv(hidden, hidden, 3, 1)
        self.cv7 = Conv(2 * hidden, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.cv4(self.cv3(self.cv1(x)))
        pooled = self.cv6(self.cv5(torch.cat([x1] + [pool(x1) for pool in self.m], 1)))
        return self.cv7(torch.cat((pooled, self.cv2(x)), 1))


class ImplicitA(nn.Module):
    """A learned per-channel offset added to (B, C, H, W) (``implicit``: (1, C, 1, 1))."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.implicit = nn.Parameter(torch.zeros(1, channel, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.implicit + x


class ImplicitM(nn.Module):
    """A learned per-channel scale (``implicit``: (1, C, 1, 1)); see :class:`V7Segment`."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.implicit = nn.Parameter(torch.ones(1, channel, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.implicit * x


class V7Segment(V5Segment):
    """YOLOv7's ``ISegment``: the YOLOv5-seg head with an ImplicitA offset on each level's input.

    Output layout as :class:`V5Segment` (rows (B, N, 5 + nc + nm), protos (B, nm, 2H_0, 2W_0)).
    The checkpoint also holds ImplicitM scales (``im``), but the authors' ``ISegment`` forward
    never applies them, so neither does this one (parity with their code is tested).
    """

    def __init__(self, nc: int, anchors: Sequence[Sequence[float]] | int, nm: int, npr: int,
                 ch: Sequence[int], *, strides: Sequence[int]) -> None:
        super().__init__(nc, anchors, nm, npr, ch, strides=strides)
        self.ia = nn.ModuleList(ImplicitA(c) for c in ch)
        # Sized for detection rows (nc + 5), as the authors' head creates them before adding masks.
        self.im = nn.ModuleList(ImplicitM((self.nc + 5) * self.na) for _ in ch)

    def forward(self, x: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        protos = self.proto(x[0])
        rows = torch.cat([self._level(i, self.m[i](self.ia[i](xi))) for i, xi in enumerate(x)], 1)
        return rows, protos
