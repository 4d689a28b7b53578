"""Building a :class:`YoloModel` from a checkpoint, strictly, and saving rtdetect's format."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch

from ..atomic import atomic_path
from .checkpoint import RTDETECT_FORMAT, CheckpointContents, read_checkpoint
from .errors import StateDictMismatchError, UnsupportedModelError
from .model import YoloModel
from .structure import check_structure, copy_batchnorm_eps


def _mismatches(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> list[str]:
    problems = [f"missing key {k}" for k in expected if k not in given]
    problems += [f"unexpected key {k}" for k in given if k not in expected]
    for key in expected.keys() & given.keys():
        if tuple(expected[key].shape) != tuple(given[key].shape):
            problems.append(f"{key}: checkpoint shape {tuple(given[key].shape)}, "
                            f"architecture {tuple(expected[key].shape)}")
    return problems


def load_state_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """``load_state_dict(strict=True)`` with a readable StateDictMismatchError listing problems."""
    problems = _mismatches(model.state_dict(), state)
    if problems:
        shown = "\n  ".join(sorted(problems)[:12])
        more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise StateDictMismatchError(f"checkpoint tensors do not fit the architecture:\n  {shown}{more}")
    model.load_state_dict(dict(state), strict=True)


def model_from_contents(contents: CheckpointContents) -> YoloModel:
    """Build the architecture from ``contents.config`` and load its tensors; eval mode, float32."""
    model = YoloModel(contents.config, names=contents.names)
    if contents.root is not None:
        check_structure(model, contents.root)
        copy_batchnorm_eps(model, contents.root)
    if contents.strides and tuple(contents.strides) != model.strides:
        raise UnsupportedModelError(
            f"checkpoint strides {contents.strides} differ from the config's {model.strides}")
    load_state_strict(model, contents.state_dict)
    model.source = contents.source
    return model.float().eval()


def load_model(path: str | os.PathLike[str]) -> YoloModel:
    """Import a ``.pt`` checkpoint (official YOLOv5/Ultralytics or rtdetect) as a YoloModel."""
    return model_from_contents(read_checkpoint(path))


def save_model(model: YoloModel, path: str | os.PathLike[str]) -> Path:
    """Write ``{"rtdetect_format": 1, "config", "names", "state_dict"}`` atomically with
    ``torch.save``; readable by :func:`load_model` and ``torch.load(weights_only=True)``."""
    target = Path(path)
    payload = {
        "rtdetect_format": RTDETECT_FORMAT,
        "config": model.config,
        "names": list(model.names) if model.names is not None else None,
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }
    with atomic_path(target) as tmp:
        torch.save(payload, tmp)
    return target
