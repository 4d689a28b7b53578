"""A labelled dataset as pycocotools wants it: the ground truth of the usable images as one COCO dict.

Both formats (``coco``, ``yolo``) read into a :class:`Dataset`. Problems with single entries (a missing
image, an annotation for an image that is not there, a bad label line) are named once on stderr through
``notes.note`` and the entry is left out; what remains is scored. A dataset left with no usable image is a
``SourceError``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SourceError
from ..notes import note


@dataclass(frozen=True)
class Category:
    """A dataset class: its id in the ground truth (COCO: 1..90 with gaps; YOLO: 0..n-1) and its name."""

    id: int
    name: str


@dataclass(frozen=True)
class ImageEntry:
    """One labelled image: its id in the ground truth, its file and its (height, width) in pixels."""

    id: int
    path: Path
    height: int
    width: int


@dataclass
class Dataset:
    """The usable images, the categories and the ground truth as a COCO dict (``images``,
    ``annotations``, ``categories``) that pycocotools' ``COCO`` indexes. ``numbered``: the categories have
    no names (matched to the model's classes by id)."""

    images: list[ImageEntry]
    categories: list[Category]
    annotations: list[dict] = field(default_factory=list)
    numbered: bool = False

    def coco_dict(self) -> dict:
        """The ground truth as COCO JSON (a dict), only the usable images."""
        return {"images": [{"id": i.id, "file_name": i.path.name, "height": i.height, "width": i.width}
                           for i in self.images],
                "annotations": self.annotations,
                "categories": [{"id": c.id, "name": c.name} for c in self.categories]}

    @property
    def has_masks(self) -> bool:
        """Whether every annotation has a segmentation (polygon or RLE), so masks can be scored."""
        return bool(self.annotations) and all(a.get("segmentation") for a in self.annotations)


def usable(dataset: Dataset, data: str) -> Dataset:
    """``dataset``, or SourceError when none of its images can be scored."""
    if not dataset.images:
        raise SourceError(f"no usable image in {data} (see the notes above)")
    return dataset


def open_dataset(data: str) -> Dataset:
    """The dataset at ``data``: a COCO annotations .json, a YOLO data .yaml, or a folder holding either
    (``annotations/*.json``; ``*.yaml``) or a YOLO ``images/`` + ``labels/`` pair. SourceError when it is none."""
    from . import coco, yolo

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


def skip(message: str) -> None:
    """Name a left-out entry on stderr."""
    note(f"skipping {message}")
