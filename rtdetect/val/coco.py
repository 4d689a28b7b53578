"""COCO-format datasets: an annotations JSON (``images``, ``annotations``, ``categories``) and a folder of
images. The usual layout is ``ROOT/annotations/instances_val2017.json`` with ``ROOT/images/val2017/`` (or
``ROOT/val2017/``); an image's ``file_name`` is looked up in those folders, then in ``ROOT/images`` and ``ROOT``.
Boxes, polygon and RLE segmentations and ``iscrowd`` are kept as they are: pycocotools reads them."""
from __future__ import annotations

import json
from pathlib import Path

from ..capture.images import header_size
from ..errors import SourceError
from .dataset import Category, Dataset, ImageEntry, skip

POLYGON_MIN_COORDS = 6  # three (x, y) points


def annotation_file(folder: Path) -> Path | None:
    """The annotations JSON of a COCO dataset folder: the one ``annotations/*.json``, or the one of several
    whose name says ``val``; None when the folder has no ``annotations/`` with a .json."""
    files = sorted((folder / "annotations").glob("*.json"))
    if not files:
        return None
    if len(files) == 1:
        return files[0]
    val = [f for f in files if "val" in f.stem.lower()]
    if len(val) == 1:
        return val[0]
    raise SourceError(f"{folder / 'annotations'} holds several annotation files "
                      f"({', '.join(f.name for f in files)}); give one with --data FILE.json")


def image_folders(annotations: Path) -> list[Path]:
    """Where the images of ``annotations`` may be, most specific first (``instances_val2017.json`` →
    ``ROOT/images/val2017``, ``ROOT/val2017``, ``ROOT/images``, ``ROOT``)."""
    root = annotations.parent.parent if annotations.parent.name == "annotations" else annotations.parent
    split = annotations.stem.rsplit("_", 1)[-1]
    folders = [root / "images" / split, root / split, root / "images", root]
    return [f for i, f in enumerate(folders) if f.is_dir() and f not in folders[:i]]


def read(annotations: Path) -> Dataset:
    """The dataset of a COCO annotations file; SourceError when it is not one."""
    try:
        raw = json.loads(annotations.read_text(encoding="utf-8"))
        images, anns, cats = raw["images"], raw["annotations"], raw["categories"]
        categories = [Category(int(c["id"]), str(c["name"])) for c in cats]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{annotations} is not a COCO annotations file ({exc!r})") from None
    entries = found_images(images, image_folders(annotations))
    known = {e.id for e in entries}
    listed = {i.get("id") for i in images}
    kept = []
    for ann in anns:
        image_id = ann.get("image_id")
        if image_id not in listed:
            skip(f"annotation {ann.get('id')}: its image {image_id} is not in {annotations.name}'s images")
        elif not has_box(ann):
            skip(f"annotation {ann.get('id')}: no bbox [x, y, w, h]")
        elif image_id in known and checked_segmentation(ann):
            kept.append(ann)
    return Dataset(entries, categories, kept)


def found_images(images: list[dict], folders: list[Path]) -> list[ImageEntry]:
    """The listed images whose file is in one of ``folders``; each missing one is named."""
    entries = []
    for image in images:
        name = str(image.get("file_name", ""))
        path = next((f / name for f in folders if name and (f / name).is_file()), None)
        if not isinstance(image.get("id"), int):
            skip(f"image entry {name or image}: no integer id")
        elif path is None:
            skip(f"image {image['id']}: {name or 'no file_name'} not found in "
                 f"{', '.join(str(f) for f in folders) or 'the dataset folder'}")
        else:
            height, width = image.get("height"), image.get("width")
            if not (isinstance(height, int) and isinstance(width, int)):
                try:
                    width, height = header_size(str(path))
                except SourceError as exc:
                    skip(f"image {image['id']}: {exc}")
                    continue
            entries.append(ImageEntry(image["id"], path, height, width))
    return entries


def has_box(ann: dict) -> bool:
    """Whether ``ann`` has a ``bbox`` of four numbers (pycocotools needs one for every object)."""
    box = ann.get("bbox")
    return isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)


def checked_segmentation(ann: dict) -> bool:
    """Drop polygons of fewer than three points from ``ann`` (named); False when none is left, so the
    annotation is left out. RLE segmentations and annotations without one are kept as they are."""
    polygons = ann.get("segmentation")
    if not isinstance(polygons, list) or not polygons:
        return True
    good = [p for p in polygons if isinstance(p, list) and len(p) >= POLYGON_MIN_COORDS]
    if not good:
        skip(f"annotation {ann.get('id')}: its polygon has fewer than 3 points")
    elif len(good) < len(polygons):
        skip(f"{len(polygons) - len(good)} polygon(s) of annotation {ann.get('id')}: fewer than 3 points")
    ann["segmentation"] = good
    return bool(good)
