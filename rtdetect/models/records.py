"""Reading inert module records (from :mod:`unpickler`) as module trees and state dicts."""
from __future__ import annotations

from typing import Any, Iterator

import torch

from .errors import CheckpointFormatError
from .unpickler import Record


def _mapping(record: Record, key: str) -> dict[str, Any]:
    value = record.attrs.get(key) or {}
    if not isinstance(value, dict):
        raise CheckpointFormatError(f"{record.qualname()}.{key} is not a dict in checkpoint")
    return value


def iter_modules(record: Record, prefix: str = "") -> Iterator[tuple[str, Record]]:
    """(dotted path, record) for ``record`` and every sub-module record (depth first)."""
    yield prefix, record
    for name, child in _mapping(record, "_modules").items():
        if child is None:
            continue
        if not isinstance(child, Record):
            raise CheckpointFormatError(f"sub-module {prefix + name!r} is not a module in checkpoint")
        yield from iter_modules(child, f"{prefix}{name}.")


def state_dict_of(record: Record) -> dict[str, torch.Tensor]:
    """The persistent parameters and buffers of a module record tree, as ``state_dict()`` would
    name them; floating tensors are converted to contiguous float32."""
    out: dict[str, torch.Tensor] = {}
    for prefix, module in iter_modules(record):
        skip = module.attrs.get("_non_persistent_buffers_set") or set()
        tensors = list(_mapping(module, "_parameters").items())
        tensors += [(k, v) for k, v in _mapping(module, "_buffers").items() if k not in skip]
        for name, tensor in tensors:
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointFormatError(f"{prefix}{name} is not a tensor in checkpoint")
            out[f"{prefix}{name}"] = _as_float32(tensor)
    return out


def _as_float32(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.is_floating_point():
        return tensor.detach().to(torch.float32).contiguous()
    return tensor.detach().contiguous()


def module_paths(record: Record) -> dict[str, Record]:
    """Dotted path (without trailing dot) -> record, for every module under ``record``."""
    return {path.rstrip("."): rec for path, rec in iter_modules(record)}
