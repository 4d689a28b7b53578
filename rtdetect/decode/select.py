"""Choose the decoder for a model: from rtdetect's ONNX metadata when present, else from the output shapes.

Shapes understood (batch 1; nm = mask coefficients, taken from a rank-4 protos output (1, nm, h, w)):

* ``v5``  (1, N, 5 + nc + nm), N > channels: YOLOv5, objectness
* ``v8``  (1, 4 + nc + nm, N), channels < N: YOLOv8 / YOLO11
* ``e2e`` (1, K, 6 + nm), K <= 1000: end-to-end (YOLOv10 style), already selected, no NMS

A model whose outputs fit none of these raises ``UnsupportedModelError`` naming the shapes.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass

from ..notes import note
from .anchor_based import AnchorBasedDecoder
from .anchor_free import AnchorFreeDecoder
from .base import Decoder, UnsupportedModelError
from .end_to_end import EndToEndDecoder

DECODERS: dict[str, type[Decoder]] = {cls.layout: cls for cls in (AnchorBasedDecoder, AnchorFreeDecoder, EndToEndDecoder)}
MAX_END_TO_END_ROWS = 1000


@dataclass(frozen=True)
class OutputRoles:
    """Which model output is which: index of the predictions (rank 3) and of the protos (rank 4) or None."""

    prediction: int
    protos: int | None


def class_names_from_metadata(metadata: dict[str, str]) -> list[str] | None:
    """Class names from rtdetect's ``rtdetect.names`` (JSON list) or Ultralytics' ``names`` (dict literal
    ``{0: 'person', ...}``), or None when there are none. Names that are not a flat list, or a dict whose keys
    are the indices 0..n-1 (ints or digit strings), or that cannot be parsed at all (bad JSON, deep nesting)
    are ignored with a one-line note: the classes are then numbered."""
    for key, parse in (("rtdetect.names", json.loads), ("names", ast.literal_eval)):  # literal_eval runs no code
        if key not in metadata:
            continue
        raw = metadata[key]
        try:
            names = _flat_names(parse(raw))
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            names = None
        if names is None:
            shown = raw if len(raw) <= 40 else raw[:37] + "..."
            note(f"ignoring the model's class names: its {key!r} metadata {shown!r} is not a list of names or "
                 f"an {{index: name}} dict; classes are numbered")
        return names
    return None


def _flat_names(parsed) -> list[str] | None:
    """``parsed`` as a list of names: a list of strings/numbers, or a dict {0: name, ..., n-1: name} whose
    keys are ints or digit strings (in any mix, each index once); None for anything else."""
    if isinstance(parsed, dict):
        indexed = {}
        for key, value in parsed.items():
            if isinstance(key, str) and key.strip().isdecimal():
                key = int(key)
            if not isinstance(key, int) or isinstance(key, bool) or key in indexed:
                return None  # no index, or two names for one index (0 and '0')
            indexed[key] = value
        if sorted(indexed) != list(range(len(indexed))):
            return None
        parsed = [indexed[i] for i in range(len(indexed))]
    if not isinstance(parsed, (list, tuple)) or not parsed:
        return None
    if not all(isinstance(n, (str, int, float)) and not isinstance(n, bool) for n in parsed):
        return None
    return [str(n) for n in parsed]


def output_roles(shapes: list[tuple[int, ...]]) -> OutputRoles:
    ranks = [len(s) for s in shapes]
    if ranks.count(3) != 1 or ranks.count(4) > 1 or len(shapes) > 2:
        raise UnsupportedModelError(
            f"model outputs {describe(shapes)} are not a detector: expected one (1, A, B) prediction "
            f"and at most one (1, nm, h, w) protos output")
    protos = ranks.index(4) if 4 in ranks else None
    return OutputRoles(prediction=ranks.index(3), protos=protos)


def describe(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


def _layout_from_shape(pred: tuple[int, ...], nm: int) -> tuple[str, int]:
    """(layout, num_classes) guessed from the prediction shape; raises when nothing fits."""
    _, a, b = pred
    if a < b and a - 4 - nm >= 1:
        return "v8", a - 4 - nm
    if a > b and b == 6 + nm and a <= MAX_END_TO_END_ROWS:
        return "e2e", 0
    if a > b and b - 5 - nm >= 1:
        return "v5", b - 5 - nm
    raise UnsupportedModelError(f"no decoder understands a prediction of shape {pred} with {nm} mask coefficients")


def select_decoder(shapes: list[tuple[int, ...]], metadata: dict[str, str]) -> tuple[Decoder, OutputRoles, list[str]]:
    """The decoder, the output roles and the class names for outputs of these concrete ``shapes``."""
    roles = output_roles(shapes)
    pred = tuple(int(d) for d in shapes[roles.prediction])
    if pred[0] != 1:
        raise UnsupportedModelError(f"prediction output {pred} must have batch 1")
    nm = int(shapes[roles.protos][1]) if roles.protos is not None else 0
    names = class_names_from_metadata(metadata)
    layout = metadata.get("rtdetect.layout")
    if layout is None:
        layout, guessed_nc = _layout_from_shape(pred, nm)
        if metadata.get("end2end", "").lower() == "true" and pred[2] == 6 + nm:
            layout = "e2e"
        if names and guessed_nc and len(names) != guessed_nc:
            note(f"ignoring the model's class names: it names {len(names)} classes but its output has "
                 f"{guessed_nc}; classes are numbered")
            names = None
        nc = len(names) if names else guessed_nc
    elif layout not in DECODERS:
        raise UnsupportedModelError(f"model metadata names an unknown output layout {layout!r}")
    else:
        count = metadata.get("rtdetect.num_classes", "0")
        nc = len(names) if names else (int(count) if str(count).isdigit() else 0)
    if nc < 1:
        raise UnsupportedModelError(f"cannot tell the number of classes of outputs {describe(shapes)}: the model has no class names")
    expected = {"v5": (pred[1], 5 + nc + nm), "v8": (4 + nc + nm, pred[2]), "e2e": (pred[1], 6 + nm)}[layout]
    if pred[1:] != expected:
        raise UnsupportedModelError(
            f"prediction of shape {pred} does not fit layout {layout!r} with {nc} classes and {nm} mask coefficients")
    if names is None:
        names = [str(i) for i in range(nc)]
    return DECODERS[layout](nc, nm), roles, names
