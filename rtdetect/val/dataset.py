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


def skip(message: str) -> None:
    """Name a left-out entry on stderr."""
    note(f"skipping {message}")
