"""The INT8 model: a Q/DQ ONNX calibrated on real frames with ONNX Runtime's static quantization.

TensorRT 11 takes INT8 only as explicit quantization (QuantizeLinear/DequantizeLinear in the graph; the
calibrators are gone), and TensorRT 10 builds the same graph. The recipe:

* QDQ format, ``QInt8`` activations and weights, both symmetric: ONNX Runtime's ``quantize_static``
  docstring recommends symmetric QInt8 for both when targeting GPU/TensorRT, and TensorRT's quantization
  is symmetric (zero point 0).
* Per-channel weight scales; biases stay float (``QuantizeBias=False``): only weights and activations
  get Q/DQ.
* Only ``Conv`` and ``MatMul`` nodes are quantized (their inputs get Q/DQ); activations, residual adds,
  concats, pooling and resizes stay float between them.
* The detection-head tail (:func:`rtdetect.inference.onnx_tools.variants.head_node_names`: the last prediction convs,
  DFL, decode) is excluded. In a trial on the YOLOv8 test model, quantizing every op, head included,
  moved per-anchor class scores by up to 0.72; with this recipe, detections keep 98-100% recall against
  fp32 on held-out frames, mean |score drop| about 0.03 (tests/trt/test_quantize.py prints the numbers).
* Calibration: min/max over the frames (``CalibMaxIntermediateOutputs`` bounds memory so hundreds of
  frames fit), frames letterboxed like inference (handed in by the caller).

That recipe (``TENSORRT_RECIPE``) is made for TensorRT. ONNX Runtime on the CPU gets ``CPU_RECIPE``: the
same, with unsigned asymmetric activations (u8s8), what ORT's x86 integer kernels take (with signed
activations they fall back to slower paths).
"""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ...errors import ModelError
from .calibration import TensorReader
from .runtime import quiet_onnxruntime
from .variants import head_node_names, inspect_onnx, name_unnamed_nodes, save_model, set_metadata

QUANT_OP_TYPES = ("Conv", "MatMul")
_MAX_INTERMEDIATE = 16


@dataclass(frozen=True)
class QdqRecipe:
    """How ONNX Runtime's ``quantize_static`` quantizes activations; weights are always symmetric QInt8
    per channel. ``name`` is part of the calibration fingerprint (change it when the recipe changes)."""

    name: str
    activation_type: str  # onnxruntime.quantization.QuantType member name
    symmetric_activations: bool


# TensorRT: signed, symmetric activations (zero point 0), as its explicit quantization wants.
TENSORRT_RECIPE = QdqRecipe("qdq-s8s8-sym-perchannel-minmax-convmatmul-headfloat-v1", "QInt8", True)
# ONNX Runtime on the CPU: unsigned asymmetric activations with signed weights (u8s8), the layout its x86
# integer kernels take; on CPUs without VNNI the engine's ``session.x64quantprecision`` keeps those from
# saturating (rtdetect.inference.onnxruntime).
CPU_RECIPE = QdqRecipe("qdq-u8s8-asym-perchannel-minmax-convmatmul-headfloat-v1", "QUInt8", False)
RECIPE = TENSORRT_RECIPE.name  # part of the TensorRT engine's calibration fingerprint


def _quantize_options(op_types: Sequence[str], exclude: Sequence[str], recipe: QdqRecipe) -> dict:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    return dict(
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType[recipe.activation_type],
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=list(op_types),
        nodes_to_exclude=list(exclude),
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": recipe.symmetric_activations, "WeightSymmetric": True,
                       "QuantizeBias": False, "CalibMaxIntermediateOutputs": _MAX_INTERMEDIATE},
    )


def write_int8_qdq(source: str | os.PathLike, target: str | os.PathLike, tensors: Iterable[np.ndarray], *,
                   op_types: Sequence[str] = QUANT_OP_TYPES, recipe: QdqRecipe = TENSORRT_RECIPE,
                   on_frame: Callable[[int], None] | None = None) -> Path:
    """Calibrate the float32 ONNX ``source`` on ``tensors`` (frames prepared as its input: (1, 3, H, W)
    float32, letterboxed) and write the Q/DQ
    INT8 ONNX of ``recipe`` to ``target`` (atomically). Metadata is copied; ``rtdetect.precision`` = int8 and
    ``rtdetect.calibration_frames`` = the number of frames used are added. Raises ModelError when the
    model is not float32, no frame was given, or the calibration fails (e.g. ONNX Runtime cannot run the
    model on a frame)."""
    import onnx
    from onnxruntime.quantization import quantize_static

    quiet_onnxruntime()  # the calibration sessions quantize_static opens log on the default logger
    info = inspect_onnx(source)
    if info.input_dtype != "float32":
        raise ModelError(f"INT8 calibration needs a float32 ONNX; {source} takes {info.input_dtype}")
    model = onnx.load(str(source))
    name_unnamed_nodes(model)
    exclude = sorted(head_node_names(model))
    reader = TensorReader(tensors, info.input_name, on_frame=on_frame)
    with tempfile.TemporaryDirectory(prefix="rtdetect-quant-") as tmp:
        out = Path(tmp) / "int8.onnx"
        try:
            quantize_static(model, str(out), reader, **_quantize_options(op_types, exclude, recipe))
        except Exception as exc:  # ORT's own error types while it runs the model on the frames, onnx's on the graph
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelError(f"INT8 calibration of {source} failed: {reason}") from exc
        if reader.count == 0:
            raise ModelError("INT8 calibration got no frames: check --calib-source")
        quantized = onnx.load(str(out))
    set_metadata(quantized, {**info.metadata, "rtdetect.precision": "int8",
                             "rtdetect.calibration_frames": str(reader.count)})
    save_model(quantized, Path(target))
    return Path(target)


def progress_printer(total: int, every: int = 50, stream=None) -> Callable[[int], None]:
    """An ``on_frame`` callback that prints "calibrating: n/total frames" every ``every`` frames."""
    out = stream or sys.stderr

    def on_frame(count: int) -> None:
        if count % every == 0 or count == total:
            print(f"rtdetect: calibrating INT8: {count}/{total} frames", file=out, flush=True)

    return on_frame
