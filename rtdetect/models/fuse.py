"""Folding BatchNorm into the preceding convolution (for export and fast inference)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from .layers import Conv


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new Conv2d (with bias) equal to ``bn(conv(x))`` in eval mode.

    w' = w * g / sqrt(var + eps) per output channel; b' = (b - mean) * g / sqrt(var + eps) + beta.
    """
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True,
                      device=conv.weight.device, dtype=conv.weight.dtype)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return fused.requires_grad_(False)


def fused_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every ``Conv`` block's BatchNorm folded."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if isinstance(module, Conv) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = fold_batchnorm(module.conv, module.bn)
            module.bn = nn.Identity()
    return model
