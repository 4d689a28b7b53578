"""Checking that a model built from a checkpoint's config has the checkpoint's module structure.

Weights of the right shape are not enough: a conv could differ in stride, padding or groups, an
activation could be another function. These checks compare every module path and the
hyper-parameters of the torch.nn leaf modules with the checkpoint's records, and copy BatchNorm
``eps`` values (they are not in the state dict).
"""
from __future__ import annotations

from typing import Any

from torch import nn

from .errors import UnsupportedModelError
from .records import module_paths
from .unpickler import Record

LEAF_FIELDS = {
    "Conv2d": ("kernel_size", "stride", "padding", "dilation", "groups"),
    "ConvTranspose2d": ("kernel_size", "stride", "padding", "dilation", "groups"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation"),
    "Upsample": ("scale_factor", "mode", "size"),
    "BatchNorm2d": ("num_features",),
    "SiLU": (), "Identity": (),
}


def _normalise(value: Any) -> Any:
    """Ints and 2-tuples compare equal when they mean the same (3 == (3, 3)), floats as floats."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        value = value[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _leaf_problems(path: str, ours: nn.Module, theirs: Record) -> list[str]:
    kind = type(ours).__name__
    if kind not in LEAF_FIELDS:
        return []
    if theirs.source_name != kind or not theirs.source_module.startswith("torch.nn."):
        return [f"{path}: checkpoint has {theirs.qualname()}, rtdetect builds {kind}"]
    problems = []
    for field in LEAF_FIELDS[kind]:
        mine, given = _normalise(getattr(ours, field, None)), _normalise(theirs.attrs.get(field))
        if mine != given:
            problems.append(f"{path}.{field}: checkpoint {given!r}, rtdetect {mine!r}")
    return problems


def check_structure(model: nn.Module, root: Record) -> None:
    """Raise UnsupportedModelError listing every difference between ``model`` and ``root``."""
    theirs = module_paths(root)
    ours = dict(model.named_modules())
    problems = [f"{p}: module missing from checkpoint" for p in sorted(set(ours) - set(theirs))]
    problems += [f"{p}: unknown module {theirs[p].qualname()} in checkpoint"
                 for p in sorted(set(theirs) - set(ours))]
    for path in sorted(set(ours) & set(theirs)):
        problems += _leaf_problems(path or "<root>", ours[path], theirs[path])
    if problems:
        shown = "\n  ".join(problems[:12])
        more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise UnsupportedModelError(
            f"checkpoint structure differs from the architecture built from its config:\n  {shown}{more}")


def copy_batchnorm_eps(model: nn.Module, root: Record) -> None:
    """Set each BatchNorm2d's ``eps`` to the checkpoint's value (it is not in the state dict)."""
    theirs = module_paths(root)
    for path, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d) and path in theirs:
            eps = theirs[path].attrs.get("eps")
            if isinstance(eps, float) and eps > 0:
                module.eps = eps
