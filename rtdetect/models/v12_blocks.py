"""YOLO12 blocks: area attention (AAttn, ABlock) and the residual ELAN block A2C2f.

Attribute names follow the Ultralytics checkpoints. Tensors are float (B, C, H, W).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import C3k, Conv


class AAttn(nn.Module):
    """Multi-head self-attention within ``area`` horizontal bands of the feature map.

    The H*W positions (row-major) are cut into ``area`` equal consecutive groups that attend only
    within themselves (area 1: global attention); a 7x7 depthwise conv on the values adds position.
    (B, dim, H, W) -> (B, dim, H, W); H*W must be divisible by ``area``.
    """

    def __init__(self, dim: int, num_heads: int, area: int = 1) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f"AAttn: dim {dim} is not divisible into {num_heads} heads")
        self.area = area
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = Conv(dim, dim * 3, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 7, 1, 3, g=dim, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        groups = self.area if self.area > 1 else 1
        n = h * w // groups
        # (B, 3C, H, W) -> (B*groups, heads, 3*head_dim, n): each group's positions as a sequence
        qkv = self.qkv(x).flatten(2).transpose(1, 2).reshape(b * groups, n, self.num_heads, 3 * self.head_dim)
        q, k, v = qkv.permute(0, 2, 3, 1).split(self.head_dim, dim=2)
        weights = ((q * self.head_dim ** -0.5).transpose(-2, -1) @ k).softmax(dim=-1)
        out = v @ weights.transpose(-2, -1)

        def to_map(t: torch.Tensor) -> torch.Tensor:  # (B*groups, heads, head_dim, n) -> (B, C, H, W)
            return t.permute(0, 3, 1, 2).reshape(b, h, w, c).permute(0, 3, 1, 2)

        return self.proj(to_map(out) + self.pe(to_map(v)))


class ABlock(nn.Module):
    """Area attention then a 1x1 MLP (dim -> dim*mlp_ratio -> dim), each with a residual add."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 1.2, area: int = 1) -> None:
        super().__init__()
        self.attn = AAttn(dim, num_heads=num_heads, area=area)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(Conv(dim, hidden, 1), Conv(hidden, dim, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class A2C2f(nn.Module):
    """R-ELAN: cv1 to c2*e channels; ``n`` chained blocks (two ABlocks when ``a2``, else a C3k);
    cv2 over cv1's output and every block's. With ``a2`` and ``residual`` the result is
    ``x + gamma * y`` (per-channel ``gamma``, needs c1 == c2). (B, c1, H, W) -> (B, c2, H, W).
    """

    def __init__(self, c1: int, c2: int, n: int = 1, a2: bool = True, area: int = 1,
                 residual: bool = False, mlp_ratio: float = 2.0, e: float = 0.5, g: int = 1,
                 shortcut: bool = True) -> None:
        super().__init__()
        hidden = int(c2 * e)
        if hidden % 32:
            raise ValueError(f"A2C2f: hidden channels {hidden} are not a multiple of 32")
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv((1 + n) * hidden, c2, 1)
        if a2 and residual:
            self.gamma: nn.Parameter | None = nn.Parameter(0.01 * torch.ones(c2))
        else:
            self.gamma = None
        self.m = nn.ModuleList(
            nn.Sequential(*(ABlock(hidden, hidden // 32, mlp_ratio, area) for _ in range(2)))
            if a2 else C3k(hidden, hidden, 2, shortcut, g)
            for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [self.cv1(x)]
        for block in self.m:
            maps.append(block(maps[-1]))
        y = self.cv2(torch.cat(maps, 1))
        if self.gamma is not None:
            return x + self.gamma.view(1, -1, 1, 1) * y
        return y
