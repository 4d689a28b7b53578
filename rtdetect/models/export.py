"""ONNX export of YOLO models with rtdetect metadata, and reading that metadata back.

The ONNX graph has input ``images`` (B, 3, H, W) float32 (float16 with ``half``) and outputs
``output0`` (rows, layout per ``rtdetect.layout``) and, for segmentation, ``output1`` (protos
(B, nm, H/4, W/4)). Metadata (``metadata_props``, all strings):

=====================  ========================================================================
rtdetect.family        yolov5 | yolov7 | yolov8 | yolov9 | yolov10 | yolo11 | yolo12 | yolo26
rtdetect.task          detect | segment
rtdetect.layout        v5 = (B, N, 5+nc+nm) with objectness | v8 = (B, 4+nc+nm, N) | e2e = (B, K, 6+nm)
rtdetect.names         JSON list of class names
rtdetect.num_classes   int
rtdetect.num_masks     int (0 for detect)
rtdetect.stride        max stride, int
rtdetect.imgsz         JSON [H, W] used for the export
rtdetect.dynamic       "true" | "false" (batch, H and W dynamic)
rtdetect.version       rtdetect version that wrote the file
=====================  ========================================================================
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from ..atomic import atomic_path
from ..version import rtdetect_version
from .errors import ExportArgumentError, ModelError
from .sizes import check_imgsz
from .fuse import fused_copy
from .model import YoloModel

DEFAULT_OPSET = 17
METADATA_KEYS = ("rtdetect.family", "rtdetect.task", "rtdetect.layout", "rtdetect.names",
                 "rtdetect.num_classes", "rtdetect.num_masks", "rtdetect.stride",
                 "rtdetect.imgsz", "rtdetect.dynamic", "rtdetect.version")


def model_metadata(model: YoloModel, imgsz: tuple[int, int], dynamic: bool) -> dict[str, str]:
    """The rtdetect metadata (see module docstring) for ``model``."""
    names = list(model.names) if model.names is not None else [str(i) for i in range(model.num_classes)]
    return {
        "rtdetect.family": model.family, "rtdetect.task": model.task,
        "rtdetect.layout": model.layout, "rtdetect.names": json.dumps(names),
        "rtdetect.num_classes": str(model.num_classes), "rtdetect.num_masks": str(model.num_masks),
        "rtdetect.stride": str(model.max_stride), "rtdetect.imgsz": json.dumps(list(imgsz)),
        "rtdetect.dynamic": "true" if dynamic else "false", "rtdetect.version": rtdetect_version(),
    }


def _dynamic_axes(model: YoloModel) -> dict[str, dict[int, str]]:
    rows_axis = 1 if model.layout == "v5" else 2
    axes = {"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch"}}
    if model.layout != "e2e":
        axes["output0"][rows_axis] = "anchors"
    if model.task == "segment":
        axes["output1"] = {0: "batch", 2: "mask_height", 3: "mask_width"}
    return axes


def _as_model(model_or_checkpoint: YoloModel | str | os.PathLike[str]) -> YoloModel:
    if isinstance(model_or_checkpoint, YoloModel):
        return model_or_checkpoint
    from .loader import load_model  # local: keeps this module importable without a checkpoint

    return load_model(model_or_checkpoint)


def _trace_to_file(net: torch.nn.Module, example: torch.Tensor, path: str, model: YoloModel,
                   dynamic: bool, opset: int) -> None:
    """Run the TorchScript-based exporter (still supported, deprecated, in torch 2.9-2.13)."""
    outputs = ["output0", "output1"] if model.task == "segment" else ["output0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        with torch.no_grad():
            torch.onnx.export(net, (example,), path, dynamo=False, opset_version=opset,
                              input_names=["images"], output_names=outputs,
                              dynamic_axes=_dynamic_axes(model) if dynamic else None,
                              do_constant_folding=True)


def _write_metadata(path: str, props: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "rtdetect"
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def export_onnx(model_or_checkpoint: YoloModel | str | os.PathLike[str],
                out_path: str | os.PathLike[str], *, imgsz: Sequence[int] = (640, 640),
                dynamic: bool = False, half: bool = False, opset: int = DEFAULT_OPSET) -> Path:
    """Export a YoloModel (or a ``.pt`` checkpoint, imported safely) to ONNX at ``out_path``.

    BatchNorm is folded first; the graph runs the eval forward (see module docstring for names,
    layouts and metadata). ``half`` makes input, weights and outputs float16. The file is written
    to a temporary name in the same directory and renamed, so readers never see a partial file.
    """
    if not 13 <= int(opset) <= 20:
        raise ExportArgumentError(f"opset {opset} is outside 13..20 (17 suits TensorRT 10 and ONNX Runtime)")
    model = _as_model(model_or_checkpoint)
    h, w = check_imgsz(imgsz, model.max_stride)
    dtype = torch.float16 if half else torch.float32
    net = fused_copy(model).to(dtype)
    example = torch.zeros(1, model.in_channels, h, w, dtype=dtype)
    with atomic_path(out_path) as tmp:
        _trace_to_file(net, example, str(tmp), model, dynamic, int(opset))
        _write_metadata(str(tmp), model_metadata(model, (h, w), dynamic))
    return Path(out_path)


def _parse_value(key: str, value: str) -> Any:
    if key in ("rtdetect.names", "rtdetect.imgsz"):
        return json.loads(value)
    if key in ("rtdetect.num_classes", "rtdetect.num_masks", "rtdetect.stride"):
        return int(value)
    if key == "rtdetect.dynamic":
        return value == "true"
    return value


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``rtdetect.*`` metadata of an ONNX file, parsed: names (list), imgsz ([H, W]),
    num_classes/num_masks/stride (int), dynamic (bool), the rest strings. Other keys are kept
    as strings. Raises ModelError when the file lacks rtdetect metadata."""
    import onnx

    try:
        proto = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as exc:  # onnx raises several unrelated types for unreadable files
        raise ModelError(f"{path}: not a readable ONNX file ({exc})") from None
    raw = {p.key: p.value for p in proto.metadata_props}
    missing = [k for k in METADATA_KEYS if k not in raw]
    if missing:
        raise ModelError(f"{path}: ONNX file lacks rtdetect metadata {missing}; export it with "
                         f"`rtdetect export`")
    try:
        return {k: _parse_value(k, v) for k, v in raw.items()}
    except (ValueError, RecursionError) as exc:  # hand-edited or foreign values: bad JSON, not an int
        raise ModelError(f"{path}: unreadable rtdetect metadata ({type(exc).__name__}: {exc})"[:300]) from None
