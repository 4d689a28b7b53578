"""The steps of ``rtdetect val``: read the dataset, run the model on each image as detection does
(``rtdetect.api.Detector``, letterboxed square at ``imgsz`` like a folder of images), match classes by name,
score with pycocotools."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from typing import Sequence

from ..api import Detector, class_ids_from
from ..capture.images import read_image
from ..errors import SourceError
from ..input_shape import Request
from ..notes import note
from ..postprocess import PostprocessConfig
from ..records import to_record
from ..types import Frame
from .classes import ClassMatch, match_classes
from .dataset import Dataset, ImageEntry, skip, usable
from .formats import open_dataset
from .scoring import Scores, ground_truth, require_val_extra, score

DEFAULT_CONF = 0.001
DEFAULT_MAX_DET = 300
# NMS IoU of each family's own validation: YOLOv5's val.py (0.6) for the anchor-based layout (v5, v7),
# Ultralytics' `yolo val` (0.7) for the anchor-free and end-to-end ones (v8 and later).
FAMILY_IOU = {"v5": 0.6, "v8": 0.7, "e2e": 0.7}


@dataclass(frozen=True)
class ValSettings:
    """The model and thresholds of a validation run; ``iou`` None: the model family's own (FAMILY_IOU)."""

    model: str
    backend: str = "auto"
    precision: str = "auto"
    imgsz: Request = None
    conf: float = DEFAULT_CONF
    iou: float | None = None
    max_det: int = DEFAULT_MAX_DET
    classes: Sequence[str | int] | None = None


@dataclass(frozen=True)
class ValResult:
    """What ``rtdetect val`` reports: counts, box (and mask) scores, what ran, and how long it took."""

    images: int
    instances: int
    box: Scores
    mask: Scores | None
    model: str
    backend: str
    precision: str
    imgsz: tuple[int, int]
    iou: float
    seconds: float
    saved: tuple[str, ...] = ()


def validate(data: str, settings: ValSettings, *, progress: bool = True, save: str | None = None) -> ValResult:
    """Score ``settings.model`` on the dataset at ``data`` (see ``formats.open_dataset``); ``save``: a folder
    for the worst images, ground truth beside predictions (``save.save_worst``)."""
    require_val_extra()
    start = time.perf_counter()
    dataset = open_dataset(data)
    with Detector(settings.model, backend=settings.backend, precision=settings.precision, conf=settings.conf,
                  iou=settings.iou if settings.iou is not None else FAMILY_IOU["v8"], imgsz=settings.imgsz,
                  max_det=settings.max_det) as detector:
        pipeline = detector.model_for(None)  # square at imgsz, as detection runs a folder of images
        scored = score_model(pipeline, dataset, data, settings, progress=progress)
        engine = pipeline.engine
    saved = ()
    if save is not None:
        from .save import save_worst

        saved = tuple(map(str, save_worst(save, scored.images, dict(scored.records), scored.gt, scored.box.errors,
                                          scored.match, scored.names)))
    return ValResult(len(scored.images), scored.instances, scored.box, scored.mask, settings.model, engine.name,
                     engine.precision, tuple(engine.input_hw), scored.iou, time.perf_counter() - start, saved)


@dataclass(frozen=True)
class ModelScores:
    """One open pipeline's scores on a dataset: box (and mask) scores, the NMS IoU used, the images scored
    with their detections (``records``: image id, ``records.to_record``), the ground truth (pycocotools
    ``COCO``), the class match and the model's class names."""

    box: Scores
    mask: Scores | None
    iou: float
    images: list[ImageEntry]
    records: list[tuple[int, dict]]
    gt: object
    match: ClassMatch
    names: list[str]

    @property
    def instances(self) -> int:
        """Ground-truth objects scored (crowds aside), over the matched classes."""
        return sum(row["instances"] for row in self.box.per_class)


def score_model(pipeline, dataset: Dataset, data: str, settings: ValSettings, *,
                   progress: bool = False) -> ModelScores:
    """Score an already open ``pipeline`` (a ``rtdetect.run.Model``, at whatever input shape its engine has)
    on ``dataset`` (``open_dataset(data)``) at ``settings``' thresholds and classes (its model, backend,
    precision and imgsz are not used: the pipeline has them). The pipeline is left configured at those
    thresholds."""
    # The family (its output layout) is known once the model is open: its val IoU unless one was given.
    described = pipeline.describe()
    iou = settings.iou if settings.iou is not None else FAMILY_IOU[described["layout"]]
    keep = class_ids_from(settings.classes, pipeline.names)
    pipeline.configure(PostprocessConfig(conf=settings.conf, iou=iou, max_det=settings.max_det, classes=keep))
    match = match_classes(pipeline.names, dataset.categories, numbered=dataset.numbered, keep=keep)
    records, scored = detect_all(pipeline, dataset.images, progress)
    gt = ground_truth(usable(replace(dataset, images=scored), data).coco_dict())
    image_ids = [image.id for image in scored]
    names = {c.id: c.name for c in dataset.categories}
    box_results, mask_results = coco_results(records, match)
    box = score(gt, box_results, "bbox", image_ids, match.category_ids, names)
    mask = None
    if described["masks"]:
        if dataset.has_masks:
            mask = score(gt, mask_results, "segm", image_ids, match.category_ids, names)
        else:
            note("masks not scored: the dataset's objects have no segmentation")
    return ModelScores(box, mask, iou, scored, records, gt, match, list(pipeline.names))


def detect_all(pipeline, images: list[ImageEntry], progress: bool) -> tuple[list[tuple[int, dict]], list[ImageEntry]]:
    """``(image id, records.to_record of its detections)`` for every image that can be read, and those
    images; an unreadable image, or one whose size is not the annotated one, is named and left out."""
    from tqdm import tqdm

    records, scored = [], []
    for image in tqdm(images, desc="rtdetect val", unit="image", file=sys.stderr, disable=not progress):
        try:
            pixels = read_image(str(image.path))
        except SourceError as exc:
            skip(f"image {image.id}: {exc}")
            continue
        if pixels.shape[:2] != (image.height, image.width):
            skip(f"image {image.path}: it is {pixels.shape[1]}x{pixels.shape[0]}, its annotations say "
                 f"{image.width}x{image.height}")
            continue
        detections = pipeline.process(Frame(pixels, 0, None, str(image.path))).detections
        records.append((image.id, to_record(detections, pipeline.names)))
        scored.append(image)
    return records, scored


def coco_results(records: list[tuple[int, dict]], match: ClassMatch) -> tuple[list[dict], list[dict]]:
    """The detections of matched classes as COCO results: boxes ``[x, y, w, h]`` and, when there are masks,
    their full-image RLE (``counts`` as bytes, as pycocotools wants)."""
    boxes, masks = [], []
    for image_id, record in records:
        for item in record["detections"]:
            category = match.to_category.get(item["class_id"])
            if category is None:
                continue
            x1, y1, x2, y2 = item["box"]
            common = {"image_id": image_id, "category_id": category, "score": item["score"]}
            boxes.append({**common, "bbox": [x1, y1, x2 - x1, y2 - y1]})
            if "mask" in item:
                masks.append({**common, "segmentation": {"size": item["mask"]["size"],
                                                         "counts": item["mask"]["counts"].encode("ascii")}})
    return boxes, masks
