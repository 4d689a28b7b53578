"""Position-sensitive attention blocks: YOLO11's C2PSA, YOLOv10's PSA, and C3k2 (YOLO11/12/26),
whose YOLO26 form puts a PSABlock after each bottleneck.

All take and return (B, C, H, W) float tensors.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import C2f, C3k, Bottleneck, Conv


class Attention(nn.Module):
    """Multi-head self-attention over the H*W positions, plus a depthwise positional conv.

    ``qkv`` projects C channels to heads x (2 * key_dim + head_dim); ``pe`` is a 3x3 depthwise
    conv on the values; ``proj`` mixes the result. (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, dim: int, num_heads: int = 8, attn_ratio: float = 0.5) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f"Attention: dim {dim} is not divisible into {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        qkv_channels = dim + 2 * self.key_dim * num_heads
        self.qkv = Conv(dim, qkv_channels, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        per_head = 2 * self.key_dim + self.head_dim
        qkv = self.qkv(x).view(b, self.num_heads, per_head, h * w)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.head_dim], dim=2)
        weights = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
        out = (v @ weights.transpose(-2, -1)).view(b, c, h, w)
        out = out + self.pe(v.reshape(b, c, h, w))
        return self.proj(out)


def _ffn(c: int) -> nn.Sequential:
    """Pointwise feed-forward: c -> 2c (SiLU) -> c (linear)."""
    return nn.Sequential(Conv(c, c * 2, 1), Conv(c * 2, c, 1, act=False))


class PSABlock(nn.Module):
    """Attention then feed-forward, each with a residual add when ``shortcut``."""

    def __init__(self, c: int, attn_ratio: float = 0.5, num_heads: int = 4,
                 shortcut: bool = True) -> None:
        super().__init__()
        self.attn = Attention(c, num_heads=num_heads, attn_ratio=attn_ratio)
        self.ffn = _ffn(c)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x) if self.add else self.attn(x)
        return x + self.ffn(x) if self.add else self.ffn(x)


class C2PSA(nn.Module):
    """YOLO11: cv1 splits channels in halves a, b; ``n`` PSABlocks run on b; cv2(cat(a, b)).

    Requires c1 == c2; heads = (c1 * e) // 64.
    """

    def __init__(self, c1: int, c2: int, n: int = 1, e: float = 0.5) -> None:
        super().__init__()
        if c1 != c2:
            raise ValueError(f"C2PSA needs equal input and output channels, got {c1} and {c2}")
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        self.m = nn.Sequential(
            *(PSABlock(self.c, attn_ratio=0.5, num_heads=self.c // 64) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.cv1(x).split((self.c, self.c), dim=1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


class PSA(nn.Module):
    """YOLOv10: like C2PSA with a single attention + feed-forward pair stored flat."""

    def __init__(self, c1: int, c2: int, e: float = 0.5) -> None:
        super().__init__()
        if c1 != c2:
            raise ValueError(f"PSA needs equal input and output channels, got {c1} and {c2}")
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        self.attn = Attention(self.c, attn_ratio=0.5, num_heads=self.c // 64)
        self.ffn = _ffn(self.c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.cv1(x).split((self.c, self.c), dim=1)
        b = b + self.attn(b)
        b = b + self.ffn(b)
        return self.cv2(torch.cat((a, b), 1))


class C3k2(C2f):
    """C2f whose blocks are C3k (``c3k``), a Bottleneck followed by a PSABlock (``attn``, YOLO26),
    or a Bottleneck with e=0.5. Argument order as in the Ultralytics 8.4 configs."""

    def __init__(self, c1: int, c2: int, n: int = 1, c3k: bool = False, e: float = 0.5,
                 attn: bool = False, g: int = 1, shortcut: bool = True) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        c = self.c
        self.m = nn.ModuleList(self._block(c, c3k, attn, g, shortcut) for _ in range(n))

    @staticmethod
    def _block(c: int, c3k: bool, attn: bool, g: int, shortcut: bool) -> nn.Module:
        if attn:
            return nn.Sequential(Bottleneck(c, c, shortcut, g),
                                 PSABlock(c, attn_ratio=0.5, num_heads=max(c // 64, 1)))
        return C3k(c, c, 2, shortcut, g) if c3k else Bottleneck(c, c, shortcut, g)
