"""Which format a labelled dataset is in, and reading it as one :class:`rtdetect.val.dataset.Dataset`."""
from __future__ import annotations

from pathlib import Path

from ..errors import SourceError
from . import coco, yolo
from .dataset import Dataset, usable


def open_dataset(data: str) -> Dataset:
    """The dataset at ``data``: a COCO annotations .json, a YOLO data .yaml, or a folder holding either
    (``annotations/*.json``; ``*.yaml``) or a YOLO ``images/`` + ``labels/`` pair. SourceError when it is none."""
    path = Path(data)
    if not path.exists():
        raise SourceError(f"--data {data}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".json":
            return usable(coco.read(path), data)
        if path.suffix.lower() in (".yaml", ".yml"):
            return usable(yolo.read_yaml(path), data)
        raise SourceError(f"--data {data}: expected a COCO .json, a YOLO .yaml or a dataset folder")
    annotations = coco.annotation_file(path)
    if annotations is not None:
        return usable(coco.read(annotations), data)
    yamls = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    if len(yamls) == 1:
        return usable(yolo.read_yaml(yamls[0]), data)
    if len(yamls) > 1:
        raise SourceError(f"--data {data} holds several .yaml files ({', '.join(y.name for y in yamls)}); give one")
    if (path / "images").is_dir() and (path / "labels").is_dir():
        return usable(yolo.read_folders(path / "images", path / "labels"), data)
    raise SourceError(f"--data {data}: no annotations/*.json (COCO), data .yaml or images/ + labels/ folders (YOLO)")
