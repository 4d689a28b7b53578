"""``rtdetect val``'s outputs: a readable table for stdout and the JSON report (written atomically)."""
from __future__ import annotations

import json

from ..atomic import atomic_write_bytes
from .run import ValResult
from .scoring import Scores

SUMMARY_COLUMNS = (("mAP50-95", "map"), ("mAP50", "map50"), ("mAP75", "map75"),
                   ("small", "map_small"), ("medium", "map_medium"), ("large", "map_large"))


def percent(value: float) -> str:
    """A COCO figure as a percentage; pycocotools' -1 (nothing to score) as a dash."""
    return "-" if value < 0 else f"{100 * value:.1f}"


def to_table(result: ValResult) -> str:
    """The summary (box, mask) and the per-class AP, as aligned text."""
    imgsz = f"{result.imgsz[0]}x{result.imgsz[1]}"
    lines = [f"{result.model} on {result.backend} {result.precision} at {imgsz}, NMS IoU {result.iou:g}: "
             f"{result.images} images, {result.instances} instances, {result.seconds:.1f} s", ""]
    kinds = [("box", result.box)] + ([("mask", result.mask)] if result.mask is not None else [])
    lines.append(f"{'':6}" + "".join(f"{title:>10}" for title, _ in SUMMARY_COLUMNS))
    for kind, scores in kinds:
        lines.append(f"{kind:6}" + "".join(f"{percent(scores.summary[key]):>10}" for _, key in SUMMARY_COLUMNS))
    lines.append("")
    width = max([5] + [len(row["class"]) for row in result.box.per_class])
    header = f"{'class':<{width}} {'instances':>9}" + "".join(
        f"{kind + ' ' + title:>18}" for kind, _ in kinds for title in ("mAP50-95", "mAP50"))
    lines.append(header)
    rows = zip(*(scores.per_class for _, scores in kinds))
    for per_kind in rows:
        first = per_kind[0]
        lines.append(f"{first['class']:<{width}} {first['instances']:>9}" + "".join(
            f"{percent(row[key]):>18}" for row in per_kind for key in ("map", "map50")))
    return "\n".join(lines)


def scores_dict(scores: Scores | None) -> dict | None:
    return None if scores is None else {**scores.summary, "per_class": scores.per_class}


def to_dict(result: ValResult) -> dict:
    """The JSON report: ``images``, ``instances``, ``box`` and ``mask`` (null without masks) with ``map``,
    ``map50``, ``map75``, ``map_small``, ``map_medium``, ``map_large`` in [0, 1] (-1: nothing to score) and
    ``per_class``; then what ran (``model``, ``backend``, ``precision``, ``imgsz`` [H, W], ``iou``) and ``seconds``."""
    return {"images": result.images, "instances": result.instances, "box": scores_dict(result.box),
            "mask": scores_dict(result.mask), "model": result.model, "backend": result.backend,
            "precision": result.precision, "imgsz": list(result.imgsz), "iou": result.iou,
            "seconds": round(result.seconds, 3)}


def write_json(result: ValResult, path: str) -> None:
    """The JSON report at ``path``, written atomically."""
    atomic_write_bytes(path, (json.dumps(to_dict(result), indent=2) + "\n").encode("utf-8"))
