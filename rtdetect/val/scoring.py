"""Scoring by pycocotools (the reference implementation; no AP is computed here): COCOeval on boxes
and, for segmentation models, on masks (COCO RLE of the full image)."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from ..errors import missing_extra

# COCOeval.stats: mAP50-95, mAP50, mAP75, then small, medium, large (all at 100 detections per image ...)
STAT_KEYS = ("map", "map50", "map75", "map_small", "map_medium", "map_large")
SHOWN_CONF = 0.25  # detection's default score threshold: the detections a user would see count as errors


def require_val_extra(command: str = "rtdetect val") -> None:
    """The error naming ``command`` and the ``[val]`` extra when its libraries (pycocotools, PyYAML) are not
    installed."""
    try:
        import pycocotools  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        raise missing_extra(command, exc.name, "val") from None


@dataclass(frozen=True)
class Scores:
    """One kind's (box or mask) result: the COCO summary figures in [0, 1] (-1: nothing to score, as
    pycocotools says), each scored category's AP50-95 and AP50, and each image's errors at IoU 0.5
    (``errors[image id]``: objects missed + detections scoring at least ``SHOWN_CONF`` that match nothing)."""

    summary: dict[str, float]
    per_class: list[dict]
    errors: dict[int, int]


def quietly(call, *args, **kwargs):
    """``call(*args, **kwargs)`` with pycocotools' prints to stdout held back (the report is ours)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return call(*args, **kwargs)


def ground_truth(coco_dict: dict):
    """A pycocotools ``COCO`` of a ground-truth dict."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = coco_dict
    quietly(coco.createIndex)
    return coco


def score(gt, results: list[dict], iou_type: str, image_ids: list[int], category_ids: list[int],
          names: dict[int, str]) -> Scores:
    """COCOeval of ``results`` (COCO result dicts: ``image_id``, ``category_id``, ``bbox`` [x, y, w, h] or
    ``segmentation`` RLE, ``score``) against ``gt`` on ``image_ids`` × ``category_ids``; ``iou_type``
    "bbox" or "segm". COCOeval's own limits apply (the figures count the 100 best detections per image and
    class, as COCO's published mAP does)."""
    from pycocotools.cocoeval import COCOeval

    dt = quietly(gt.loadRes, results) if results else empty_results(gt)
    evaluator = COCOeval(gt, dt, iou_type)
    evaluator.params.imgIds = image_ids
    evaluator.params.catIds = category_ids
    quietly(evaluator.evaluate)
    quietly(evaluator.accumulate)
    quietly(evaluator.summarize)
    summary = {key: float(value) for key, value in zip(STAT_KEYS, evaluator.stats)}
    return Scores(summary, per_class(evaluator, category_ids, names), image_errors(evaluator))


def image_errors(evaluator) -> dict[int, int]:
    """Per image, from COCOeval's matches at IoU 0.5 over all areas: ground-truth objects left unmatched
    (crowds and ignored ones aside) plus unmatched, not ignored detections scoring at least SHOWN_CONF."""
    everywhere = evaluator.params.areaRng[0]
    errors: dict[int, int] = {}
    for entry in evaluator.evalImgs:
        if entry is None or entry["aRng"] != everywhere:
            continue
        missed = int(((entry["gtMatches"][0] == 0) & ~np.asarray(entry["gtIgnore"], bool)).sum())
        unmatched = (entry["dtMatches"][0] == 0) & ~entry["dtIgnore"][0]
        false = int((unmatched & (np.asarray(entry["dtScores"]) >= SHOWN_CONF)).sum())
        errors[entry["image_id"]] = errors.get(entry["image_id"], 0) + missed + false
    return errors


def empty_results(gt):
    """A results ``COCO`` with no detection (``loadRes`` refuses an empty list)."""
    from pycocotools.coco import COCO

    dt = COCO()
    dt.dataset = {"images": list(gt.dataset["images"]), "categories": list(gt.dataset["categories"]), "annotations": []}
    quietly(dt.createIndex)
    return dt


def per_class(evaluator, category_ids: list[int], names: dict[int, str]) -> list[dict]:
    """Each category's AP50-95 and AP50 read from COCOeval's accumulated precision (T, R, K, A, M): the
    mean over its valid (> -1) entries at all areas and the largest detection limit, as ``summarize`` does
    for all categories together; ``instances``: its ground-truth objects that are not crowds."""
    precision = evaluator.eval["precision"]
    gt = evaluator.cocoGt
    rows = []
    for k, category_id in enumerate(category_ids):
        table = precision[:, :, k, 0, -1]
        ap50 = table[0]
        instances = len(gt.getAnnIds(imgIds=evaluator.params.imgIds, catIds=[category_id], iscrowd=False))
        rows.append({"class": names[category_id], "category_id": category_id, "instances": instances,
                     "map": mean_valid(table), "map50": mean_valid(ap50)})
    return rows


def mean_valid(values: np.ndarray) -> float:
    """Mean of the entries > -1 (pycocotools' marker for "no ground truth"), -1 when there is none."""
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0
