"""Building a model from a built-in name or a config dict (random, seeded-by-caller weights)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .coco import default_names
from .configs import builtin_config
from .model import YoloModel


def build_model(name_or_config: str | Mapping[str, Any], *, nc: int | None = None,
                names: Sequence[str] | None = None, end2end: bool = False) -> YoloModel:
    """An eval-mode YoloModel with freshly initialised weights.

    ``name_or_config``: a built-in name (``configs.builtin_names()``) or a config dict; ``nc``
    overrides the class count (default: the config's, 80 for built-ins); ``names`` defaults to
    COCO names for 80 classes, ``class<i>`` otherwise.
    """
    if isinstance(name_or_config, str):
        config = builtin_config(name_or_config, nc=80 if nc is None else nc, end2end=end2end)
    else:
        config = dict(name_or_config)
        if nc is not None:
            config["nc"] = nc
        if end2end:
            config["end2end"] = True
    num_classes = int(config.get("nc", 80))
    model = YoloModel(config, names=list(names) if names is not None else default_names(num_classes))
    return model.eval()
