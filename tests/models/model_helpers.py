"""Test helpers: a plain letterbox and a minimal YOLOv5-seg decode (NumPy), independent of the
pipeline's preprocess/decode so these tests check the model layer alone."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def letterbox(image_bgr: np.ndarray, size: int = 640) -> tuple[np.ndarray, float, int, int]:
    """(H, W, 3) uint8 BGR -> ((1, 3, size, size) float32 RGB in [0, 1], scale, pad_x, pad_y)."""
    h, w = image_bgr.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = round(h * scale), round(w * scale)
    resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[top:top + nh, left:left + nw] = resized
    chw = canvas[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(chw)[None].astype(np.float32) / 255.0, scale, left, top


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter + 1e-9)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy NMS, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou]
    return np.array(keep, dtype=np.int64)


@dataclass
class Found:
    boxes: np.ndarray  # (N, 4) xyxy, input pixels
    scores: np.ndarray  # (N,)
    classes: np.ndarray  # (N,)
    masks: np.ndarray | None  # (N, H, W) bool at input resolution, not cropped


def decode_v5(rows: np.ndarray, protos: np.ndarray | None, nc: int = 80, conf: float = 0.25,
              iou: float = 0.45) -> Found:
    """YOLOv5(-seg) rows (N, 5+nc+nm) of one image -> class-aware NMS'd detections + masks."""
    scores_all = rows[:, 4:5] * rows[:, 5:5 + nc]
    classes = scores_all.argmax(1)
    scores = scores_all.max(1)
    sel = scores > conf
    rows, scores, classes = rows[sel], scores[sel], classes[sel]
    xy, wh = rows[:, :2], rows[:, 2:4]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
    keep = greedy_nms(boxes + classes[:, None] * 4096.0, scores, iou)
    boxes, scores, classes, rows = boxes[keep], scores[keep], classes[keep], rows[keep]
    masks = None
    if protos is not None:
        nm, ph, pw = protos.shape
        logits = rows[:, 5 + nc:] @ protos.reshape(nm, -1)
        small = (1 / (1 + np.exp(-logits))).reshape(-1, ph, pw)
        size = (pw * 4, ph * 4)
        masks = np.stack([cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) > 0.5 for m in small]) \
            if len(small) else np.zeros((0, ph * 4, pw * 4), bool)
    return Found(boxes, scores, classes, masks)


def resolve_in_child(args: tuple[str, str, tuple[int, int]]) -> str:
    """Worker for the concurrent-conversion test (module level, so a spawned process can import it)."""
    from rtdetect.models.zoo import resolve_model

    source, cache_dir, imgsz = args
    return str(resolve_model(source, imgsz=imgsz, cache_dir=cache_dir))


def mask_density(mask: np.ndarray, box: np.ndarray) -> tuple[float, float]:
    """(fraction of the box covered by the mask, fraction of the area outside the box covered)."""
    x1, y1, x2, y2 = np.clip(np.round(box).astype(int), 0, [mask.shape[1], mask.shape[0]] * 2)
    inside = float(mask[y1:y2, x1:x2].sum())
    box_area = max((x2 - x1) * (y2 - y1), 1)
    outside_area = max(mask.size - box_area, 1)
    return inside / box_area, (float(mask.sum()) - inside) / outside_area


def seeded_tensor(key: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Deterministic float32 values for the state-dict entry ``key`` (the same in any venv).

    Exactly representable in float16 (Ultralytics' ``save()`` stores half precision). Conv weights
    uniform +-sqrt(3/fan_in) (unit gain: scores neither collapse nor saturate), conv biases +-1/sqrt(c);
    BatchNorm: weight in [0.5, 1.5],
    bias and running_mean in [-0.2, 0.2], running_var in [0.5, 2] (randomised statistics); any other
    A2C2f's gamma in [0.005, 0.02]; any other tensor: uniform [-0.5, 0.5].
    """
    import zlib

    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "gamma":  # A2C2f's residual scale: Ultralytics starts it at 0.01; larger makes attention chaotic
        low, high = 0.005, 0.02
    elif leaf == "running_var":
        low, high = 0.5, 2.0
    elif leaf in ("running_mean",) or (leaf == "bias" and ".bn." in key):
        low, high = -0.2, 0.2
    elif leaf == "weight" and len(shape) == 1:
        low, high = 0.5, 1.5
    elif leaf in ("weight", "bias") and len(shape) in (1, 4):
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else max(int(shape[0]), 1)
        bound = (3.0 / fan_in) ** 0.5 if len(shape) == 4 else fan_in ** -0.5
        low, high = -bound, bound
    else:
        low, high = -0.5, 0.5
    return rng.uniform(low, high, size=shape).astype(np.float16).astype(np.float32)


def is_seeded_key(key: str, value_dtype_is_float: bool) -> bool:
    """Which state-dict entries :func:`seeded_tensor` fills: floating tensors except the fixed DFL bins."""
    return value_dtype_is_float and not key.endswith("dfl.conv.weight")
