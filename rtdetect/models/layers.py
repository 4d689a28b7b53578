"""Convolutional building blocks shared by the YOLO families (backbone and neck).

All blocks take and return float tensors of shape (B, C, H, W). Constructor argument order follows
the de-facto YOLO config format (``[c1, c2, *args]`` after channel scaling), and attribute names
follow the official checkpoints so that their state dicts load strictly.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def autopad(kernel: int, padding: int | None = None, dilation: int = 1) -> int:
    """'same' padding for an odd ``kernel`` (with ``dilation``) unless ``padding`` is given."""
    if padding is not None:
        return padding
    effective = dilation * (kernel - 1) + 1
    return effective // 2


class Conv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> SiLU (or no activation when ``act`` is False).

    (B, c1, H, W) -> (B, c2, H/s, W/s).
    """

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None,
                 g: int = 1, d: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p, d), groups=g, dilation=d, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def dw_conv(c1: int, c2: int, k: int = 1, s: int = 1, act: bool = True) -> Conv:
    """Depthwise(-ish) Conv: groups = gcd(c1, c2) (depthwise when c1 == c2)."""
    return Conv(c1, c2, k, s, g=math.gcd(c1, c2), act=act)


class Bottleneck(nn.Module):
    """Two convs with a residual add when ``shortcut`` and c1 == c2.

    ``k`` gives the two kernel sizes: (1, 3) in YOLOv5/C3, (3, 3) in C2f/C3k2/C3k.
    """

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1,
                 k: Sequence[int] = (3, 3), e: float = 0.5) -> None:
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, k[0], 1)
        self.cv2 = Conv(hidden, c2, k[1], 1, g=g)
        self.add = bool(shortcut) and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP block with 3 convs: cv3(cat(m(cv1(x)), cv2(x))), ``n`` bottlenecks of kernels (1, 3)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1,
                 e: float = 0.5) -> None:
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(c1, hidden, 1, 1)
        self.cv3 = Conv(2 * hidden, c2, 1)
        self.m = nn.Sequential(*self._bottlenecks(hidden, n, shortcut, g))

    @staticmethod
    def _bottlenecks(c: int, n: int, shortcut: bool, g: int) -> list[nn.Module]:
        return [Bottleneck(c, c, shortcut, g, k=(1, 3), e=1.0) for _ in range(n)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3k(C3):
    """C3 whose bottlenecks use two k x k convs (YOLO11, inside C3k2)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1,
                 e: float = 0.5, k: int = 3) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        hidden = int(c2 * e)
        self.m = nn.Sequential(
            *(Bottleneck(hidden, hidden, shortcut, g, k=(k, k), e=1.0) for _ in range(n)))


class C2f(nn.Module):
    """CSP block with split + concat of every bottleneck output (YOLOv8).

    cv1 -> split in two halves (c each) -> each of ``n`` blocks runs on the last piece ->
    cv2 over the concat of all (2 + n) pieces.
    """

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1,
                 e: float = 0.5) -> None:
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(
            Bottleneck(self.c, self.c, shortcut, g, k=(3, 3), e=1.0) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pieces = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            pieces.append(block(pieces[-1]))
        return self.cv2(torch.cat(pieces, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: cv1, ``n`` chained k x k max-pools, cv2 over the n + 1 maps.

    ``cv1_act``: SiLU after cv1 (every family before YOLO26; YOLO26's 5-argument config rows leave
    cv1 linear). ``shortcut`` adds the input to the output when c1 == c2 (YOLO26).
    """

    def __init__(self, c1: int, c2: int, k: int = 5, n: int = 3, shortcut: bool = False, *,
                 cv1_act: bool = True) -> None:
        super().__init__()
        hidden = c1 // 2
        self.cv1 = Conv(c1, hidden, 1, 1, act=cv1_act)
        self.cv2 = Conv(hidden * (n + 1), c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.n = n
        self.add = bool(shortcut) and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [self.cv1(x)]
        for _ in range(self.n):
            maps.append(self.m(maps[-1]))
        y = self.cv2(torch.cat(maps, 1))
        return x + y if self.add else y


class Concat(nn.Module):
    """Concatenate a list of tensors along ``dimension`` (channels by default)."""

    def __init__(self, dimension: int = 1) -> None:
        super().__init__()
        self.d = dimension

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(x, self.d)


class DFL(nn.Module):
    """Distribution focal loss integral: (B, 4*c1, A) logits -> (B, 4, A) expected distances.

    A fixed 1x1 conv whose weights are 0..c1-1 computes the expectation of the softmax over bins.
    """

    def __init__(self, c1: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        bins = torch.arange(c1, dtype=torch.float32)
        self.conv.weight.data[:] = bins.view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, a = x.shape
        probs = x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)
        return self.conv(probs).view(b, 4, a)


class Proto(nn.Module):
    """Mask prototypes: (B, c1, H, W) -> (B, c2, 2H, 2W).

    ``upsample`` is nearest-neighbour in YOLOv5-seg and a 2x2 stride-2 transposed conv (with bias)
    in YOLOv8/11-seg; the state-dict keys are otherwise the same.
    """

    def __init__(self, c1: int, c_: int = 256, c2: int = 32, transposed: bool = True) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c_, k=3)
        if transposed:
            self.upsample: nn.Module = nn.ConvTranspose2d(c_, c_, 2, 2, 0, bias=True)
        else:
            self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.cv2 = Conv(c_, c_, k=3)
        self.cv3 = Conv(c_, c2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(self.cv2(self.upsample(self.cv1(x))))
