"""rtdetect: real-time detection and segmentation (see README.md, "Python API").

``Detector``, ``render``, ``Detections``, ``Frame``, ``to_record`` and ``from_record`` are imported on first access, so ``import rtdetect``
loads nothing heavy and has no side effects.
"""
from __future__ import annotations

__all__ = ["Detections", "Detector", "Frame", "from_record", "render", "to_record"]

_HOMES = {"Detector": "rtdetect.api", "render": "rtdetect.api", "Detections": "rtdetect.types",
          "Frame": "rtdetect.types", "to_record": "rtdetect.records", "from_record": "rtdetect.records"}


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rtdetect' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
