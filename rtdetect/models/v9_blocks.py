"""YOLOv9 blocks as Ultralytics ships them (GELAN): RepNCSPELAN4, ELAN1, AConv, ADown, SPPELAN, and
the CBLinear/CBFuse pair of the auxiliary-branch ``yolov9e``.

Attribute names follow the Ultralytics checkpoints so that their state dicts load strictly. Tensors
are float (B, C, H, W) unless stated.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import C3, Bottleneck, Conv, autopad


class RepConvN(nn.Module):
    """Re-parameterisable 3x3: SiLU(BN(conv3x3(x)) + BN(conv1x1(x))), kept in its two-branch form.

    (B, c1, H, W) -> (B, c2, H, W); no identity branch (as in the RepNCSPELAN4 bottlenecks).
    """

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.conv1 = Conv(c1, c2, 3, 1, p=1, act=False)
        self.conv2 = Conv(c1, c2, 1, 1, p=0, act=False)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv1(x) + self.conv2(x))


class RepBottleneck(Bottleneck):
    """Bottleneck (3x3, 3x3) whose first conv is a :class:`RepConvN`."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5) -> None:
        super().__init__(c1, c2, shortcut, 1, k=(3, 3), e=e)
        self.cv1 = RepConvN(c1, int(c2 * e))


class RepCSP(C3):
    """C3 whose ``n`` bottlenecks are :class:`RepBottleneck` s."""

    def __init__(self, c1: int, c2: int, n: int = 1) -> None:
        super().__init__(c1, c2, n)
        hidden = int(c2 * 0.5)
        self.m = nn.Sequential(*(RepBottleneck(hidden, hidden, True, e=1.0) for _ in range(n)))


class RepNCSPELAN4(nn.Module):
    """GELAN block: cv1 to c3 channels, split in halves; two chained (RepCSP, 3x3) stages on the
    last half; cv4 over [half, half, stage1, stage2] to c2. (B, c1, H, W) -> (B, c2, H, W)."""

    def __init__(self, c1: int, c2: int, c3: int, c4: int, n: int = 1) -> None:
        super().__init__()
        self.c = c3 // 2
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2: nn.Module = nn.Sequential(RepCSP(c3 // 2, c4, n), Conv(c4, c4, 3, 1))
        self.cv3: nn.Module = nn.Sequential(RepCSP(c4, c4, n), Conv(c4, c4, 3, 1))
        self.cv4 = Conv(c3 + 2 * c4, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pieces = list(self.cv1(x).chunk(2, 1))
        pieces.append(self.cv2(pieces[-1]))
        pieces.append(self.cv3(pieces[-1]))
        return self.cv4(torch.cat(pieces, 1))


class ELAN1(RepNCSPELAN4):
    """RepNCSPELAN4 with plain 3x3 convs as its two stages (yolov9t/s stem)."""

    def __init__(self, c1: int, c2: int, c3: int, c4: int) -> None:
        super().__init__(c1, c2, c3, c4)
        self.cv2 = Conv(c3 // 2, c4, 3, 1)
        self.cv3 = Conv(c4, c4, 3, 1)


def _avg_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pool with stride 1 (H-1, W-1), as AConv/ADown smooth before downsampling."""
    return F.avg_pool2d(x, 2, 1, 0, False, True)


class AConv(nn.Module):
    """Average-pool smoothing then a 3x3 stride-2 conv: (B, c1, H, W) -> (B, c2, H/2, W/2)."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv1(_avg_pool_2x2(x))


class ADown(nn.Module):
    """Downsampling in two channel halves: a 3x3 stride-2 conv, and a 3x3 max-pool + 1x1 conv.

    (B, c1, H, W) -> (B, c2, H/2, W/2).
    """

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1 // 2, self.c, 3, 2, 1)
        self.cv2 = Conv(c1 // 2, self.c, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = _avg_pool_2x2(x).chunk(2, 1)
        right = self.cv2(F.max_pool2d(right, 3, 2, 1))
        return torch.cat((self.cv1(left), right), 1)


class SPPELAN(nn.Module):
    """SPP with ELAN: cv1 to c3, three chained k x k max-pools, cv5 over the four maps to c2."""

    def __init__(self, c1: int, c2: int, c3: int, k: int = 5) -> None:
        super().__init__()
        self.c = c3
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2 = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.cv3 = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.cv4 = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.cv5 = Conv(4 * c3, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [self.cv1(x)]
        for pool in (self.cv2, self.cv3, self.cv4):
            maps.append(pool(maps[-1]))
        return self.cv5(torch.cat(maps, 1))


class CBLinear(nn.Module):
    """One conv (with bias) whose output is split into pieces of ``c2s`` channels (a tuple)."""

    def __init__(self, c1: int, c2s: Sequence[int], k: int = 1, s: int = 1, p: int | None = None,
                 g: int = 1) -> None:
        super().__init__()
        self.c2s = [int(c) for c in c2s]
        self.conv = nn.Conv2d(c1, sum(self.c2s), k, s, autopad(k, p), groups=g, bias=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.conv(x).split(self.c2s, dim=1))


class CBFuse(nn.Module):
    """Sum of the last input and, from each earlier CBLinear output, piece ``idx[i]`` resized
    (nearest) to the last input's H x W."""

    def __init__(self, idx: Sequence[int]) -> None:
        super().__init__()
        self.idx = [int(i) for i in idx]

    def forward(self, xs: list) -> torch.Tensor:
        size = xs[-1].shape[2:]
        resized = [F.interpolate(x[self.idx[i]], size=size, mode="nearest") for i, x in enumerate(xs[:-1])]
        return torch.sum(torch.stack(resized + xs[-1:]), dim=0)
