"""The precision recipe: how an engine of a given precision is built on a given TensorRT version.

TensorRT 11 removed the weak-typing builder flags (``BuilderFlag.FP16``, ``BuilderFlag.INT8``, ...) and
the INT8 calibrators; every network is strongly typed, so precision must live in the ONNX itself
(TensorRT 10.x→11.x migration guide, "Strongly Typed Networks Are Now Required" and the removed-API
tables: FP16 → "strong typing with ModelOpt AutoCast", INT8 → "explicit quantization with Q/DQ nodes").
Checked against the wheels' bindings: ``BuilderFlag.FP16``/``INT8`` exist in tensorrt 10.13 and are gone in
11.4; ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` is "[DEPRECATED] ... always enabled ... ignored" in
11.4, so passing it is harmless there and opts in on 10.x.

=====  =========  ===================================  ===========================  =============
TRT    precision  ONNX built from                      builder flags                strongly typed
=====  =========  ===================================  ===========================  =============
10.x   fp32       the source (float32)                 TF32 cleared                 no
10.x   fp16       the source (float32)                 FP16                         no
10.x   int8       Q/DQ ONNX calibrated on real frames  INT8 + FP16                  no
11.x   fp32       the source (float32)                 TF32 cleared                 yes
11.x   fp16       fp16 ONNX (converted, I/O float32)   none                         yes
11.x   int8       Q/DQ ONNX calibrated on real frames  none                         yes
=====  =========  ===================================  ===========================  =============

Why: fp32 clears TF32 (on by default, it rounds inner products to a 10-bit mantissa) so that fp32 engines
match ONNX Runtime tightly. On TensorRT 10 the int8 engine is weakly typed with FP16 also allowed, so the
layers the Q/DQ graph leaves in float (the detection head, see :mod:`rtdetect.inference.onnx_tools.quantize`) may run in
fp16; on TensorRT 11 they run in the type the ONNX gives them (float32). The Q/DQ ONNX is the same file
for both versions, and it also runs in ONNX Runtime on the CPU.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import ModelError

PRECISIONS = ("fp32", "fp16", "int8")
ONNX_SOURCE, ONNX_FP16, ONNX_QDQ_INT8 = "source", "fp16", "int8-qdq"
MIN_TRT_MAJOR = 10


@dataclass(frozen=True)
class PrecisionRecipe:
    """How to build one engine.

    onnx_variant: ``source`` (the given float32 ONNX as is), ``fp16`` or ``int8-qdq`` (derived files);
    builder_flags / cleared_flags: ``tensorrt.BuilderFlag`` member names to set / clear;
    strongly_typed: create the network with ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``;
    needs_calibration: the variant needs representative frames (``--calib-source``).
    """

    trt_major: int
    precision: str
    onnx_variant: str
    builder_flags: tuple[str, ...]
    cleared_flags: tuple[str, ...]
    strongly_typed: bool
    needs_calibration: bool

    def describe(self) -> str:
        flags = "+".join(self.builder_flags) or "none"
        typing = "strongly typed" if self.strongly_typed else "weakly typed"
        return f"TensorRT {self.trt_major}.x {self.precision}: ONNX {self.onnx_variant}, flags {flags}, {typing}"


def trt_major_version(trt_version: str) -> int:
    """10 for "10.13.3.9"; raises ModelError for anything unparseable or older than TensorRT 10."""
    match = re.match(r"\s*(\d+)\.", str(trt_version))
    if match is None:
        raise ModelError(f"cannot read a TensorRT version from {trt_version!r}")
    major = int(match.group(1))
    if major < MIN_TRT_MAJOR:
        raise ModelError(f"TensorRT {trt_version} is too old: rtdetect needs TensorRT >= {MIN_TRT_MAJOR}")
    return major


def precision_recipe(trt_version: str, precision: str) -> PrecisionRecipe:
    """The build recipe for ``precision`` (fp32 | fp16 | int8) on TensorRT ``trt_version`` (e.g. "11.4.0.106").

    Pure: no TensorRT needed. TensorRT majors above 11 get the 11.x recipe (strong typing only).
    """
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    major = trt_major_version(trt_version)
    weak = major == 10
    if precision == "fp32":
        return PrecisionRecipe(major, precision, ONNX_SOURCE, (), ("TF32",), not weak, False)
    if precision == "fp16":
        if weak:
            return PrecisionRecipe(major, precision, ONNX_SOURCE, ("FP16",), (), False, False)
        return PrecisionRecipe(major, precision, ONNX_FP16, (), (), True, False)
    flags = ("INT8", "FP16") if weak else ()
    return PrecisionRecipe(major, precision, ONNX_QDQ_INT8, flags, (), not weak, True)
