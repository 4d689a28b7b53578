"""YOLO-format datasets: a data ``.yaml`` (``path``, ``val``, ``names``) or an ``images/`` + ``labels/``
folder pair. Each image ``.../images/NAME.jpg`` has its labels in ``.../labels/NAME.txt``, one object a line
in coordinates normalised to [0, 1]: ``class cx cy w h`` (a box) or ``class x1 y1 x2 y2 ...`` (a polygon of
at least three points). The ground truth becomes a COCO dict (category ids are the class ids; polygon
areas as pycocotools measures them), so both formats are scored the same way."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..capture.images import IMAGE_EXTENSIONS, header_size
from ..errors import SourceError
from ..notes import note
from .dataset import Category, Dataset, ImageEntry, skip

BOX_VALUES = 4
POLYGON_MIN_VALUES = 6  # three (x, y) points


def read_yaml(path: Path) -> Dataset:
    """The ``val`` split of a YOLO data .yaml (``path`` relative to the file's folder, ``val`` a folder, an
    image list .txt, or a list of either; ``names`` a list or an {id: name} dict)."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict) or "val" not in config or "names" not in config:
        raise SourceError(f"{path} is not a YOLO data file (it needs 'val' and 'names')")
    root = path.parent / str(config.get("path") or ".")
    splits = config["val"] if isinstance(config["val"], list) else [config["val"]]
    images = [image for split in splits for image in split_images(root / str(split))]
    return labelled(images, categories_from(config["names"], path))


def read_folders(images: Path, labels: Path) -> Dataset:
    """An ``images/`` + ``labels/`` pair; the class names from ``classes.txt`` beside them or in
    ``labels/`` (one a line), else numbered (the model's own ids are then matched by number)."""
    names_file = next((f for f in (images.parent / "classes.txt", labels / "classes.txt") if f.is_file()), None)
    if names_file is None:
        note(f"no classes.txt in {images.parent}: the dataset's classes are taken to be the model's, by id")
        names = None
    else:
        names = [line.strip() for line in names_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return labelled(split_images(images), None if names is None else categories_from(names, names_file))


def categories_from(names, source: Path) -> list[Category]:
    """``names`` (a list, or a dict {id: name}) as categories; SourceError when it is neither."""
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        return [Category(k, str(v)) for k, v in sorted(names.items())]
    if isinstance(names, list):
        return [Category(i, str(n)) for i, n in enumerate(names)]
    raise SourceError(f"{source}: 'names' must be a list or an {{id: name}} mapping")


def split_images(split: Path) -> list[Path]:
    """The image files of a split: a folder (recursive), an image list .txt (relative paths from the
    list's own folder) or one image."""
    if split.is_dir():
        return sorted(p for p in split.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if split.suffix.lower() == ".txt" and split.is_file():
        lines = [line.strip() for line in split.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [split.parent / line if not Path(line).is_absolute() else Path(line) for line in lines]
    if split.is_file():
        return [split]
    raise SourceError(f"no such image folder or list: {split}")


def label_path(image: Path) -> Path:
    """``.../images/a/b.jpg`` → ``.../labels/a/b.txt`` (the last ``images`` folder of the path)."""
    parts = list(image.parts)
    if "images" not in parts:
        return image.with_suffix(".txt")
    i = len(parts) - 1 - parts[::-1].index("images")
    return Path(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")


def labelled(images: list[Path], categories: list[Category] | None) -> Dataset:
    """The dataset of ``images`` and their label files (``categories`` None: numbered from the labels)."""
    entries, annotations = [], []
    for image in images:
        if not image.is_file():
            skip(f"image {image}: no such file")
            continue
        try:
            width, height = header_size(str(image))
        except SourceError as exc:
            skip(f"image {image}: {exc}")
            continue
        entry = ImageEntry(len(entries) + 1, image, height, width)
        labels = label_path(image)
        lines = read_lines(labels)
        if lines is None:
            continue
        entries.append(entry)
        for number, line in enumerate(lines, 1):
            ann = annotation(line, entry, f"{labels}:{number}", categories)
            if ann is not None:
                annotations.append({**ann, "id": len(annotations) + 1})
    if categories is None:
        used = sorted({a["category_id"] for a in annotations})
        return Dataset(entries, [Category(i, str(i)) for i in used], annotations, numbered=True)
    return Dataset(entries, categories, annotations)


def read_lines(labels: Path) -> list[str] | None:
    """The label lines of an image ([] for an image without a label file: no objects); None (named) when
    the file cannot be read, so the image is left out."""
    if not labels.exists():
        return []
    try:
        lines = [line for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        skip(f"{labels}: cannot read it ({exc})")
        return None
    if not lines:
        note(f"{labels} is empty: its image is scored as one with no objects")
    return lines


def annotation(line: str, image: ImageEntry, where: str, categories: list[Category] | None) -> dict | None:
    """One label line as a COCO annotation in pixels (no id yet); None (named) for a bad line."""
    try:
        values = [float(v) for v in line.split()]
    except ValueError:
        skip(f"{where}: not numbers: {line.strip()[:60]!r}")
        return None
    class_id, coords = values[0], values[1:]
    if class_id != int(class_id) or (categories is not None and int(class_id) not in {c.id for c in categories}):
        known = f"0-{len(categories) - 1}" if categories else "none"
        skip(f"{where}: class {values[0]:g} is not among the dataset's names ({known})")
        return None
    base = {"image_id": image.id, "category_id": int(class_id), "iscrowd": 0}
    if len(coords) == BOX_VALUES:
        cx, cy, w, h = coords
        box = [(cx - w / 2) * image.width, (cy - h / 2) * image.height, w * image.width, h * image.height]
        return {**base, "bbox": box, "area": box[2] * box[3]}
    if len(coords) % 2 or len(coords) < POLYGON_MIN_VALUES:
        what = "a polygon with fewer than 3 points" if len(coords) % 2 == 0 else "an odd number of coordinates"
        skip(f"{where}: {what}")
        return None
    polygon = [v * (image.width if i % 2 == 0 else image.height) for i, v in enumerate(coords)]
    return {**base, "segmentation": [polygon], "bbox": polygon_box(polygon), "area": polygon_area(polygon, image)}


def polygon_box(polygon: list[float]) -> list[float]:
    """[x, y, w, h] around a flat [x1, y1, x2, y2, ...] polygon."""
    xs, ys = polygon[0::2], polygon[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def polygon_area(polygon: list[float], image: ImageEntry) -> float:
    """The polygon's area in pixels as COCO measures it (the area of its rasterised RLE)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects([polygon], image.height, image.width))
    return float(mask_utils.area(rle))
