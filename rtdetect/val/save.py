"""``rtdetect val --save DIR``: the images the model got most wrong, ground truth (left) beside its
predictions (right), so a figure can be looked at, not only read."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..api import render
from ..atomic import atomic_write_bytes
from ..files import refuse_input_as_output
from ..records import from_record
from ..types import BoxMasks, Detections
from .classes import ClassMatch
from .dataset import ImageEntry
from .scoring import SHOWN_CONF

WORST_IMAGES = 10
TITLE_H = 32  # pixels of the black strip above each half, for its title


def worst(errors: dict[int, int], count: int = WORST_IMAGES) -> list[int]:
    """The ids of the (at most ``count``) images with the most errors, most first; images without errors never."""
    ranked = sorted((-n, image_id) for image_id, n in errors.items() if n > 0)
    return [image_id for _, image_id in ranked[:count]]


def truth(gt, image: ImageEntry, match: ClassMatch) -> Detections:
    """The scored ground-truth objects of ``image`` as Detections (class ids the model's; masks when the
    objects have segmentations; score 1)."""
    to_model = {c: m for m, c in match.to_category.items()}
    anns = [a for a in gt.imgToAnns[image.id] if a["category_id"] in to_model]
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32).reshape(-1, 4)
    masks = None
    if anns and all(a.get("segmentation") for a in anns):
        masks = BoxMasks.from_full(np.stack([gt.annToMask(a).astype(bool) for a in anns]))
    class_ids = np.array([to_model[a["category_id"]] for a in anns], np.int32)
    return Detections(xyxy, np.ones(len(anns), np.float32), class_ids, masks)


def side_by_side(pixels: np.ndarray, truth_: Detections, predicted: Detections, names) -> np.ndarray:
    """(TITLE_H + H, 2W, 3) uint8 BGR: the ground truth drawn on the left, the predictions on the right,
    each under a title strip."""
    halves = []
    for title, detections in (("ground truth", truth_), (f"predictions >= {SHOWN_CONF:g}", predicted)):
        half = cv2.copyMakeBorder(render(pixels, detections, names), TITLE_H, 0, 0, 0, cv2.BORDER_CONSTANT, value=0)
        cv2.putText(half, title, (8, TITLE_H - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        halves.append(half)
    return np.hstack(halves)


def save_worst(folder: str, images: list[ImageEntry], records: dict[int, dict], gt, errors: dict[int, int],
               match: ClassMatch, names) -> list[Path]:
    """Write the worst images into ``folder`` (created) as ``NAME.jpg``, atomically; returns the paths.
    ``records``: each image's ``records.to_record``."""
    from ..capture.images import read_image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    by_id = {image.id: image for image in images}
    written = []
    for image_id in worst(errors):
        image = by_id[image_id]
        predicted = from_record(records[image_id])
        kept = np.isin(predicted.class_ids, list(match.to_category)) & (predicted.scores >= SHOWN_CONF)
        target = out / f"{image.path.stem}.jpg"
        refuse_input_as_output(target, [image.path], "--save")
        picture = side_by_side(read_image(str(image.path)), truth(gt, image, match), predicted[kept], names)
        ok, encoded = cv2.imencode(".jpg", picture)
        if ok:
            atomic_write_bytes(target, encoded.tobytes())
            written.append(target)
    return written
