"""YOLO26 segmentation head: ``Segment26``, whose prototypes (``Proto26``) see every level.

Output layout as :class:`heads.Segment` (YOLO26 configs set ``reg_max: 1``, so box distances are
regressed directly, and ``end2end: true``, so the default output is the top-K form).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .heads import Segment
from .layers import Conv, Proto


class Proto26(Proto):
    """Prototypes from all levels: each coarser level (B, ch[i], H_0/2^i, W_0/2^i) is projected to
    ch[0] channels, upsampled (nearest) and added to level 0, fused by a 3x3 conv to ``c_``, then the
    usual Proto: (B, c2, 2*H_0, 2*W_0).

    ``semseg`` is a training-only semantic branch: held so that checkpoints load strictly, never run.
    """

    def __init__(self, ch: Sequence[int], c_: int = 256, c2: int = 32, nc: int = 80) -> None:
        super().__init__(c_, c_, c2, transposed=True)
        self.feat_refine = nn.ModuleList(Conv(c, ch[0], k=1) for c in ch[1:])
        self.feat_fuse = Conv(ch[0], c_, k=3)
        self.semseg = nn.Sequential(Conv(ch[0], c_, k=3), Conv(c_, c_, k=3), nn.Conv2d(c_, nc, 1))

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        feat = x[0]
        for i, refine in enumerate(self.feat_refine):
            feat = feat + F.interpolate(refine(x[i + 1]), scale_factor=2 ** (i + 1), mode="nearest")
        return super().forward(self.feat_fuse(feat))


class Segment26(Segment):
    """:class:`Segment` with :class:`Proto26` prototypes (see module docstring)."""

    def __init__(self, nc: int, nm: int, npr: int, ch: Sequence[int], *, strides: Sequence[int],
                 reg_max: int = 16, end2end: bool = False, dw_cls: bool = False) -> None:
        super().__init__(nc, nm, npr, ch, strides=strides, reg_max=reg_max, end2end=end2end,
                         dw_cls=dw_cls)
        self.proto = Proto26(ch, self.npr, self.nm, self.nc)

    def _protos(self, x: list[torch.Tensor]) -> torch.Tensor:
        return self.proto(x)
