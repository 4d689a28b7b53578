"""YOLOv5 (v6.x+) anchor-based heads: Detect and Segment (Detect + Proto).

Eval output, per image: (N, 5 + nc + nm) rows ``cx, cy, w, h, objectness, class scores..., mask
coefs...`` with xywh in input pixels and objectness/class scores sigmoided (mask coefs raw), where
N = sum over levels of ``na * H_l * W_l`` in level, anchor, row, column order.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .layers import Proto


def _anchor_table(anchors: Sequence[Sequence[float]] | int, levels: int) -> torch.Tensor:
    """(levels, na, 2) float anchors in pixels; an int gives placeholder anchors (loaded later)."""
    if isinstance(anchors, int):
        anchors = [list(range(anchors * 2))] * levels
    table = torch.tensor([list(map(float, a)) for a in anchors], dtype=torch.float32)
    if table.ndim != 2 or table.shape[0] != levels or table.shape[1] % 2:
        raise ValueError(f"anchors must be {levels} lists of (w, h) pairs, got shape {tuple(table.shape)}")
    return table.view(levels, -1, 2)


class V5Detect(nn.Module):
    """Anchor-based detection head.

    ``anchors`` buffer: (nl, na, 2) in grid units of each level (pixels / stride), as in the
    official checkpoints. ``stride`` (nl,) is a non-persistent buffer.
    """

    def __init__(self, nc: int, anchors: Sequence[Sequence[float]] | int, ch: Sequence[int],
                 *, strides: Sequence[int]) -> None:
        super().__init__()
        if len(strides) != len(ch):
            raise ValueError(f"V5Detect: {len(ch)} input levels but {len(strides)} strides")
        self.nc = int(nc)
        self.nm = 0
        self.no = self.nc + 5
        self.nl = len(ch)
        table = _anchor_table(anchors, self.nl)
        self.na = table.shape[1]
        stride = torch.tensor([float(s) for s in strides])
        self.register_buffer("anchors", table / stride.view(-1, 1, 1))
        self.register_buffer("stride", stride, persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)

    def _level(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """(B, na*no, H, W) raw conv output of level ``i`` -> (B, na*H*W, no) decoded rows."""
        b, _, h, w = x.shape
        y = x.view(b, self.na, self.no, h, w).permute(0, 1, 3, 4, 2)
        ys = torch.arange(h, device=x.device).to(x.dtype)  # int range: exportable in fp16 too
        xs = torch.arange(w, device=x.device).to(x.dtype)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack((grid_x, grid_y), 2).view(1, 1, h, w, 2) - 0.5
        anchor_px = (self.anchors[i] * self.stride[i]).view(1, self.na, 1, 1, 2)
        xy, wh, scores, coefs = y.split((2, 2, self.nc + 1, self.no - self.nc - 5), 4)
        xy = (xy.sigmoid() * 2 + grid) * self.stride[i]
        wh = (wh.sigmoid() * 2) ** 2 * anchor_px
        out = torch.cat((xy, wh, scores.sigmoid(), coefs), 4)
        return out.reshape(b, self.na * h * w, self.no)

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        """Level maps [(B, C_l, H_l, W_l)] -> (B, N, 5 + nc + nm)."""
        return torch.cat([self._level(i, self.m[i](xi)) for i, xi in enumerate(x)], 1)


class V5Segment(V5Detect):
    """V5Detect plus ``nm`` mask coefficients per row and a nearest-upsampling Proto.

    Returns ``(rows (B, N, 5 + nc + nm), protos (B, nm, 2*H_0, 2*W_0))``.
    """

    def __init__(self, nc: int, anchors: Sequence[Sequence[float]] | int, nm: int, npr: int,
                 ch: Sequence[int], *, strides: Sequence[int]) -> None:
        super().__init__(nc, anchors, ch, strides=strides)
        self.nm = int(nm)
        self.npr = int(npr)
        self.no = self.nc + 5 + self.nm
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
        self.proto = Proto(ch[0], self.npr, self.nm, transposed=False)

    def forward(self, x: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        protos = self.proto(x[0])
        return super().forward(x), protos
