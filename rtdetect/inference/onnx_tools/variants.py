"""ONNX facts the build needs, the detection-head node set, and the fp16 variant of a float32 ONNX.

The *detection head tail* is what turns the last feature maps into boxes and scores: the final
prediction convolutions and every decode op after them (reshape, concat, sigmoid, DFL softmax, anchor
arithmetic). It is found structurally, not by name: walk back from every graph output through the
non-Conv nodes; each Conv reached belongs to the tail and ends the walk, except a DFL convolution
(fixed weights of shape (1, bins, 1, 1)) which the walk passes through. For a YOLOv8 detector that is the
six cv2/cv3 output convs, the DFL conv and the decode ops; for YOLOv5 the three ``m`` convs and the
decode; for segmentation models also the proto and mask-coefficient output convs.

The tail stays float32 in the fp16 variant (box coordinates up to 640 px lose up to 0.25 px in fp16) and
unquantized in the INT8 variant (:mod:`rtdetect.inference.onnx_tools.quantize`): it is a small share of the compute and
all of the output's accuracy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ...atomic import atomic_write_bytes
from ...errors import ModelError

_FLOAT, _FLOAT16 = 1, 10  # onnx.TensorProto.FLOAT / FLOAT16


@dataclass(frozen=True)
class OnnxInfo:
    """input_name; input_shape: (N, C, H, W) with an int for static dims and a str for symbolic ones;
    input_dtype: "float32" | "float16"; metadata: the model's ``metadata_props``."""

    input_name: str
    input_shape: tuple
    input_dtype: str
    metadata: dict = field(default_factory=dict)


def _dim(d) -> int | str:
    return int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?")


def inspect_onnx(path: str | os.PathLike) -> OnnxInfo:
    """Input name, shape, dtype and metadata of the detector at ``path``; ModelError if it is not one."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (OSError, ValueError, DecodeError) as exc:
        raise ModelError(f"cannot read ONNX model {path}: {exc}") from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        raise ModelError(f"{path} is not an image detector: expected one (N, 3, H, W) input")
    tensor = inputs[0].type.tensor_type
    dtype = {_FLOAT: "float32", _FLOAT16: "float16"}.get(tensor.elem_type)
    if dtype is None:
        raise ModelError(f"{path}: unsupported input element type {tensor.elem_type}")
    shape = tuple(_dim(d) for d in tensor.shape.dim)
    return OnnxInfo(inputs[0].name, shape, dtype, {p.key: p.value for p in model.metadata_props})


def profile_shapes(info: OnnxInfo, imgsz: tuple[int, int], batch: int) -> tuple[tuple[int, ...], ...]:
    """(min, opt, max) NCHW input shapes of the optimisation profile for ``imgsz`` (H, W) and ``batch``.

    A dynamic batch gives min 1, opt = max = ``batch`` (offline files fill every batch; a single live
    frame still fits). Dynamic H/W are fixed to ``imgsz``. Static dims must agree with the request.
    """
    if batch < 1:
        raise ModelError(f"--batch must be >= 1, got {batch}")
    n, c, h, w = info.input_shape
    if isinstance(c, int) and c != 3:
        raise ModelError(f"model input has {c} channels; rtdetect feeds 3 (BGR frames as RGB)")
    if isinstance(h, int) and isinstance(w, int) and (h, w) != tuple(imgsz):
        raise ModelError(f"the model's input is fixed at {h}x{w}; --imgsz {imgsz[0]} {imgsz[1]} needs a dynamic "
                         f"export (rtdetect export ... --dynamic) or --imgsz {h} {w}")
    size = (int(imgsz[0]), int(imgsz[1]))
    if isinstance(n, int):
        if batch != n:
            raise ModelError(f"the model's batch is fixed at {n}; --batch {batch} needs a dynamic export "
                             f"(rtdetect export ... --dynamic)")
        shape = (n, 3, *size)
        return shape, shape, shape
    return (1, 3, *size), (batch, 3, *size), (batch, 3, *size)


def _is_dfl_conv(node, initializers: dict) -> bool:
    weight = initializers.get(node.input[1]) if len(node.input) > 1 else None
    return weight is not None and len(weight.dims) == 4 and weight.dims[0] == 1 and list(weight.dims[2:]) == [1, 1]


def head_node_names(model) -> set[str]:
    """Names of the detection-head tail nodes of ``model`` (an ``onnx.ModelProto``); see the module doc."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    initializers = {init.name: init for init in graph.initializer}
    found: set[str] = set()
    visited: set[int] = set()
    stack = [output.name for output in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        found.add(node.name)
        if node.op_type == "Conv" and not _is_dfl_conv(node, initializers):
            continue
        stack.extend(name for name in node.input if name in producer)
    return found


def name_unnamed_nodes(model) -> None:
    """Give every nameless node a unique name (quantizer and fp16 block lists address nodes by name)."""
    taken = {node.name for node in model.graph.node if node.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"rtdetect_{node.op_type}_{index}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)


def topological_sort(graph) -> None:
    """Reorder ``graph.node`` in place so each node follows the producers of its inputs (the fp16
    converter appends its input casts at the end, which the ONNX checker and TensorRT reject)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ModelError("ONNX graph has a cycle or a dangling input; cannot order it")
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    del graph.node[:]
    graph.node.extend(ordered)


def set_metadata(model, metadata: dict[str, str]) -> None:
    """Replace ``model.metadata_props`` by ``metadata``."""
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def save_model(model, path: Path) -> None:
    """Serialise ``model`` (< 2 GB, weights inline) to ``path`` atomically."""
    atomic_write_bytes(Path(path), model.SerializeToString())


def write_fp16_variant(source: str | os.PathLike, target: str | os.PathLike, *,
                       keep_float32: Sequence[str] | None = None) -> Path:
    """Convert the float32 ONNX ``source`` to fp16 at ``target``: weights and compute in fp16, graph input
    and outputs kept float32 (so the host side is unchanged), the detection-head tail kept float32
    (``keep_float32`` overrides that node list). Metadata is copied and ``rtdetect.precision`` set.

    Uses ONNX Runtime's converter (``onnxruntime.transformers.float16``), an AutoCast-like pass that
    ships with the base install; NVIDIA's ModelOpt AutoCast is the heavier alternative the TensorRT 11
    migration guide names.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(source))
    name_unnamed_nodes(model)
    block = sorted(head_node_names(model)) if keep_float32 is None else list(keep_float32)
    metadata = {p.key: p.value for p in model.metadata_props}
    converted = convert_float_to_float16(model, keep_io_types=True, node_block_list=block)
    topological_sort(converted.graph)
    set_metadata(converted, {**metadata, "rtdetect.precision": "fp16"})
    onnx.checker.check_model(converted)
    save_model(converted, Path(target))
    return Path(target)
