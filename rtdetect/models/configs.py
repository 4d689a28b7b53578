"""Built-in architecture configs (the de-facto YOLO layer-list format) as Python data.

``builtin_config(name)`` returns a fresh, JSON-serialisable dict for one of ``builtin_names()``:
``yolov5{n,s,m,l,x}[-seg]``, ``yolov8{n,s,m,l,x}[-seg]``, ``yolo11{n,s,m,l,x}[-seg]`` and the
end-to-end ``yolov10n``. Any anchor-free config can also be made end-to-end with ``end2end=True``.
"""
from __future__ import annotations

import copy
from typing import Any

from .errors import ModelNotFoundError

SIZES = ("n", "s", "m", "l", "x")
UPSAMPLE = ("nn.Upsample", ("None", 2, "nearest"))

V5_MULTIPLES = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0),
                "x": (1.33, 1.25)}
V5_ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
V5_BACKBONE = (
    (-1, 1, "Conv", (64, 6, 2, 2)), (-1, 1, "Conv", (128, 3, 2)), (-1, 3, "C3", (128,)),
    (-1, 1, "Conv", (256, 3, 2)), (-1, 6, "C3", (256,)), (-1, 1, "Conv", (512, 3, 2)),
    (-1, 9, "C3", (512,)), (-1, 1, "Conv", (1024, 3, 2)), (-1, 3, "C3", (1024,)),
    (-1, 1, "SPPF", (1024, 5)),
)
V5_NECK = (
    (-1, 1, "Conv", (512, 1, 1)), (-1, 1, *UPSAMPLE), ((-1, 6), 1, "Concat", (1,)),
    (-1, 3, "C3", (512, False)), (-1, 1, "Conv", (256, 1, 1)), (-1, 1, *UPSAMPLE),
    ((-1, 4), 1, "Concat", (1,)), (-1, 3, "C3", (256, False)), (-1, 1, "Conv", (256, 3, 2)),
    ((-1, 14), 1, "Concat", (1,)), (-1, 3, "C3", (512, False)), (-1, 1, "Conv", (512, 3, 2)),
    ((-1, 10), 1, "Concat", (1,)), (-1, 3, "C3", (1024, False)),
)
V5_HEADS = {"detect": ((17, 20, 23), 1, "Detect", ("nc", "anchors")),
            "segment": ((17, 20, 23), 1, "Segment", ("nc", "anchors", 32, 256))}

V8_SCALES = {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 768),
             "l": (1.00, 1.00, 512), "x": (1.00, 1.25, 512)}
V8_BACKBONE = (
    (-1, 1, "Conv", (64, 3, 2)), (-1, 1, "Conv", (128, 3, 2)), (-1, 3, "C2f", (128, True)),
    (-1, 1, "Conv", (256, 3, 2)), (-1, 6, "C2f", (256, True)), (-1, 1, "Conv", (512, 3, 2)),
    (-1, 6, "C2f", (512, True)), (-1, 1, "Conv", (1024, 3, 2)), (-1, 3, "C2f", (1024, True)),
    (-1, 1, "SPPF", (1024, 5)),
)
V8_NECK = (
    (-1, 1, *UPSAMPLE), ((-1, 6), 1, "Concat", (1,)), (-1, 3, "C2f", (512,)),
    (-1, 1, *UPSAMPLE), ((-1, 4), 1, "Concat", (1,)), (-1, 3, "C2f", (256,)),
    (-1, 1, "Conv", (256, 3, 2)), ((-1, 12), 1, "Concat", (1,)), (-1, 3, "C2f", (512,)),
    (-1, 1, "Conv", (512, 3, 2)), ((-1, 9), 1, "Concat", (1,)), (-1, 3, "C2f", (1024,)),
)
V8_HEADS = {"detect": ((15, 18, 21), 1, "Detect", ("nc",)),
            "segment": ((15, 18, 21), 1, "Segment", ("nc", 32, 256))}

V11_SCALES = {"n": (0.50, 0.25, 1024), "s": (0.50, 0.50, 1024), "m": (0.50, 1.00, 512),
              "l": (1.00, 1.00, 512), "x": (1.00, 1.50, 512)}
V11_BACKBONE = (
    (-1, 1, "Conv", (64, 3, 2)), (-1, 1, "Conv", (128, 3, 2)), (-1, 2, "C3k2", (256, False, 0.25)),
    (-1, 1, "Conv", (256, 3, 2)), (-1, 2, "C3k2", (512, False, 0.25)), (-1, 1, "Conv", (512, 3, 2)),
    (-1, 2, "C3k2", (512, True)), (-1, 1, "Conv", (1024, 3, 2)), (-1, 2, "C3k2", (1024, True)),
    (-1, 1, "SPPF", (1024, 5)), (-1, 2, "C2PSA", (1024,)),
)
V11_NECK = (
    (-1, 1, *UPSAMPLE), ((-1, 6), 1, "Concat", (1,)), (-1, 2, "C3k2", (512, False)),
    (-1, 1, *UPSAMPLE), ((-1, 4), 1, "Concat", (1,)), (-1, 2, "C3k2", (256, False)),
    (-1, 1, "Conv", (256, 3, 2)), ((-1, 13), 1, "Concat", (1,)), (-1, 2, "C3k2", (512, False)),
    (-1, 1, "Conv", (512, 3, 2)), ((-1, 10), 1, "Concat", (1,)), (-1, 2, "C3k2", (1024, True)),
)
V11_HEADS = {"detect": ((16, 19, 22), 1, "Detect", ("nc",)),
             "segment": ((16, 19, 22), 1, "Segment", ("nc", 32, 256))}

V10N_BACKBONE = (
    (-1, 1, "Conv", (64, 3, 2)), (-1, 1, "Conv", (128, 3, 2)), (-1, 3, "C2f", (128, True)),
    (-1, 1, "Conv", (256, 3, 2)), (-1, 6, "C2f", (256, True)), (-1, 1, "SCDown", (512, 3, 2)),
    (-1, 6, "C2f", (512, True)), (-1, 1, "SCDown", (1024, 3, 2)), (-1, 3, "C2f", (1024, True)),
    (-1, 1, "SPPF", (1024, 5)), (-1, 1, "PSA", (1024,)),
)
V10N_NECK = (
    (-1, 1, *UPSAMPLE), ((-1, 6), 1, "Concat", (1,)), (-1, 3, "C2f", (512,)),
    (-1, 1, *UPSAMPLE), ((-1, 4), 1, "Concat", (1,)), (-1, 3, "C2f", (256,)),
    (-1, 1, "Conv", (256, 3, 2)), ((-1, 13), 1, "Concat", (1,)), (-1, 3, "C2f", (512,)),
    (-1, 1, "SCDown", (512, 3, 2)), ((-1, 10), 1, "Concat", (1,)),
    (-1, 3, "C2fCIB", (1024, True, True)),
)
V10_HEAD = ((16, 19, 22), 1, "v10Detect", ("nc",))


def _as_lists(value: Any) -> Any:
    """Deep-convert tuples to lists (the JSON/YAML shape of a config)."""
    if isinstance(value, (tuple, list)):
        return [_as_lists(v) for v in value]
    return value


def _layers(rows: tuple[Any, ...]) -> list[Any]:
    return _as_lists(rows)


def _split(name: str) -> tuple[str, str, str]:
    """'yolov8s-seg' -> ('yolov8', 's', 'segment')."""
    base, _, suffix = name.partition("-")
    if suffix not in ("", "seg"):
        raise ModelNotFoundError(f"unknown built-in config {name!r}")
    return base[:-1], base[-1:], "segment" if suffix else "detect"


def _v5(size: str, task: str, nc: int) -> dict[str, Any]:
    depth, width = V5_MULTIPLES[size]
    return {"nc": nc, "depth_multiple": depth, "width_multiple": width,
            "anchors": _as_lists(V5_ANCHORS), "backbone": _layers(V5_BACKBONE),
            "head": _layers(V5_NECK + (V5_HEADS[task],))}


def _scaled(scales: dict[str, tuple[float, ...]], size: str, backbone: tuple[Any, ...],
            neck: tuple[Any, ...], head: tuple[Any, ...], nc: int) -> dict[str, Any]:
    return {"nc": nc, "scales": {k: list(v) for k, v in scales.items()}, "scale": size,
            "backbone": _layers(backbone), "head": _layers(neck + (head,))}


def builtin_names() -> list[str]:
    """Every name :func:`builtin_config` accepts."""
    names = [f"{fam}{size}{suffix}" for fam in ("yolov5", "yolov8", "yolo11")
             for size in SIZES for suffix in ("", "-seg")]
    return names + ["yolov10n"]


def builtin_config(name: str, *, nc: int = 80, end2end: bool = False) -> dict[str, Any]:
    """A fresh config dict for a built-in architecture (see module docstring)."""
    if name not in builtin_names():
        raise ModelNotFoundError(f"unknown built-in config {name!r}; known: {builtin_names()}")
    if name == "yolov10n":
        config = _scaled({"n": V8_SCALES["n"]}, "n", V10N_BACKBONE, V10N_NECK, V10_HEAD, nc)
    else:
        family, size, task = _split(name)
        if family == "yolov5":
            if end2end:
                raise ModelNotFoundError("YOLOv5 (anchor-based) has no end-to-end form")
            return _v5(size, task, nc)
        tables = {"yolov8": (V8_SCALES, V8_BACKBONE, V8_NECK, V8_HEADS),
                  "yolo11": (V11_SCALES, V11_BACKBONE, V11_NECK, V11_HEADS)}[family]
        scales, backbone, neck, heads = tables
        config = _scaled(scales, size, backbone, neck, heads[task], nc)
    if end2end:
        config["end2end"] = True
    return copy.deepcopy(config)
