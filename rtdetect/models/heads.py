"""Anchor-free heads of YOLOv8 / YOLO11 / YOLOv10: Detect (DFL), Segment, end-to-end top-K.

Eval outputs, per image, with A = sum of H_l * W_l over levels (level, row, column order):
- standard: (B, 4 + nc + nm, A): ``cx, cy, w, h`` in input pixels, sigmoided class scores, raw
  mask coefs;
- end-to-end (``end2end``): (B, K, 6 + nm) rows ``x1, y1, x2, y2, score, class, coefs...`` of the
  one-to-one branch, the top K = min(max_det, A) (anchor, class) pairs by score; no NMS needed.
Segment heads also return protos (B, nm, 2*H_0, 2*W_0).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from .layers import DFL, Conv, Proto, dw_conv


def make_anchor_points(feats: Sequence[torch.Tensor], strides: torch.Tensor,
                       offset: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres of every level in grid units (2, A) and each cell's stride (1, A)."""
    points, cell_strides = [], []
    for feat, stride in zip(feats, strides):
        h, w = feat.shape[2], feat.shape[3]
        ys = torch.arange(h, device=feat.device).to(feat.dtype) + offset  # int range: exportable
        xs = torch.arange(w, device=feat.device).to(feat.dtype) + offset
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x, grid_y), -1).view(-1, 2))
        cell_strides.append(torch.full((h * w, 1), 1.0, dtype=feat.dtype, device=feat.device) * stride)
    return torch.cat(points).transpose(0, 1), torch.cat(cell_strides).transpose(0, 1)


def dist2bbox(distance: torch.Tensor, anchor_points: torch.Tensor, xywh: bool = True,
              dim: int = -1) -> torch.Tensor:
    """(left, top, right, bottom) distances from anchor points -> xywh or xyxy boxes."""
    lt, rb = distance.chunk(2, dim)
    x1y1 = anchor_points - lt
    x2y2 = anchor_points + rb
    if xywh:
        return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim)
    return torch.cat((x1y1, x2y2), dim)


def select_topk(rows: torch.Tensor, nc: int, max_det: int) -> torch.Tensor:
    """End-to-end selection: (B, A, 4 + nc + nm) -> (B, K, 6 + nm), K = min(max_det, A).

    First keeps the K anchors with the best class score, then the K best (anchor, class) pairs
    among them; rows are ``box(4), score, class (as float), extra(nm)``, best first.
    """
    k = min(max_det, rows.shape[1])
    anchor_idx = rows[..., 4:4 + nc].amax(dim=-1).topk(k, dim=1).indices.unsqueeze(-1)
    rows = rows.gather(1, anchor_idx.expand(-1, -1, rows.shape[-1]))
    best, flat_idx = rows[..., 4:4 + nc].flatten(1).topk(k, dim=1)
    row_idx = torch.div(flat_idx, nc, rounding_mode="floor").unsqueeze(-1)
    classes = (flat_idx % nc).unsqueeze(-1).to(rows.dtype)
    rows = rows.gather(1, row_idx.expand(-1, -1, rows.shape[-1]))
    return torch.cat((rows[..., :4], best.unsqueeze(-1), classes, rows[..., 4 + nc:]), -1)


def _box_branch(c_in: int, c_mid: int, reg_max: int) -> nn.Sequential:
    return nn.Sequential(Conv(c_in, c_mid, 3), Conv(c_mid, c_mid, 3), nn.Conv2d(c_mid, 4 * reg_max, 1))


def _cls_branch(c_in: int, c_mid: int, nc: int, depthwise: bool) -> nn.Sequential:
    """Two 3x3 convs (YOLOv8), or two (depthwise 3x3, pointwise) pairs (YOLO11, YOLOv10)."""
    if not depthwise:
        return nn.Sequential(Conv(c_in, c_mid, 3), Conv(c_mid, c_mid, 3), nn.Conv2d(c_mid, nc, 1))
    return nn.Sequential(
        nn.Sequential(dw_conv(c_in, c_in, 3), Conv(c_in, c_mid, 1)),
        nn.Sequential(dw_conv(c_mid, c_mid, 3), Conv(c_mid, c_mid, 1)),
        nn.Conv2d(c_mid, nc, 1),
    )


class Detect(nn.Module):
    """Anchor-free DFL detection head (box branch ``cv2``, class branch ``cv3``, ``dfl``).

    With ``end2end`` it also owns ``one2one_cv2``/``one2one_cv3`` (same shapes) and the eval
    output is the top-K form; ``dw_cls`` selects YOLO11's depthwise class branch.
    """

    max_det = 300

    def __init__(self, nc: int, ch: Sequence[int], *, strides: Sequence[int], reg_max: int = 16,
                 end2end: bool = False, dw_cls: bool = False) -> None:
        super().__init__()
        if len(strides) != len(ch):
            raise ValueError(f"Detect: {len(ch)} input levels but {len(strides)} strides")
        self.nc, self.nl, self.reg_max, self.nm = int(nc), len(ch), int(reg_max), 0
        self.end2end = bool(end2end)
        self.register_buffer("stride", torch.tensor([float(s) for s in strides]), persistent=False)
        c_box = max(16, ch[0] // 4, self.reg_max * 4)
        c_cls = max(ch[0], min(self.nc, 100))
        self.cv2 = nn.ModuleList(_box_branch(c, c_box, self.reg_max) for c in ch)
        self.cv3 = nn.ModuleList(_cls_branch(c, c_cls, self.nc, dw_cls) for c in ch)
        self.dfl = DFL(self.reg_max) if self.reg_max > 1 else nn.Identity()
        if self.end2end:
            self.one2one_cv2 = copy.deepcopy(self.cv2)
            self.one2one_cv3 = copy.deepcopy(self.cv3)

    def _branches(self) -> tuple[nn.ModuleList, nn.ModuleList]:
        if self.end2end:
            return self.one2one_cv2, self.one2one_cv3
        return self.cv2, self.cv3

    def _decode(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """Per-level (B, 4*reg_max + nc, H, W) maps -> (B, 4 + nc, A) boxes + sigmoided scores."""
        b = maps[0].shape[0]
        flat = torch.cat([m.view(b, 4 * self.reg_max + self.nc, -1) for m in maps], 2)
        box, cls = flat.split((4 * self.reg_max, self.nc), 1)
        points, cell_strides = make_anchor_points(maps, self.stride)
        boxes = dist2bbox(self.dfl(box), points.unsqueeze(0), xywh=not self.end2end, dim=1)
        return torch.cat((boxes * cell_strides, cls.sigmoid()), 1)

    def _predict(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        box_branch, cls_branch = self._branches()
        maps = [torch.cat((box_branch[i](xi), cls_branch[i](xi)), 1) for i, xi in enumerate(x)]
        return self._decode(maps)

    def _finish(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, C, A) -> itself, or the (B, K, 2 + C) top-K form for end-to-end heads."""
        if not self.end2end:
            return rows
        return select_topk(rows.permute(0, 2, 1), self.nc, self.max_det)

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        """Level maps [(B, C_l, H_l, W_l)] -> (B, 4 + nc, A) or (B, K, 6)."""
        return self._finish(self._predict(x))


class Segment(Detect):
    """Detect plus ``nm`` mask coefficients (branch ``cv4``) and a transposed-conv Proto.

    Returns ``(rows, protos (B, nm, 2*H_0, 2*W_0))``; rows (B, 4 + nc + nm, A) or (B, K, 6 + nm).
    """

    def __init__(self, nc: int, nm: int, npr: int, ch: Sequence[int], *, strides: Sequence[int],
                 reg_max: int = 16, end2end: bool = False, dw_cls: bool = False) -> None:
        super().__init__(nc, ch, strides=strides, reg_max=reg_max, end2end=end2end, dw_cls=dw_cls)
        self.nm, self.npr = int(nm), int(npr)
        self.proto = Proto(ch[0], self.npr, self.nm, transposed=True)
        c_mask = max(ch[0] // 4, self.nm)
        self.cv4 = nn.ModuleList(
            nn.Sequential(Conv(c, c_mask, 3), Conv(c_mask, c_mask, 3), nn.Conv2d(c_mask, self.nm, 1))
            for c in ch)
        if self.end2end:
            self.one2one_cv4 = copy.deepcopy(self.cv4)

    def _protos(self, x: list[torch.Tensor]) -> torch.Tensor:
        """(B, nm, 2*H_0, 2*W_0) prototypes from the finest level."""
        return self.proto(x[0])

    def forward(self, x: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        protos = self._protos(x)
        b = x[0].shape[0]
        mask_branch = self.one2one_cv4 if self.end2end else self.cv4
        coefs = torch.cat([mask_branch[i](xi).view(b, self.nm, -1) for i, xi in enumerate(x)], 2)
        rows = torch.cat((self._predict(x), coefs), 1)
        return self._finish(rows), protos
