"""OpenVINO's INT8 model: NNCF post-training quantization of the float32 ONNX, calibrated on real frames.

OpenVINO wants its own post-training quantization: on a Q/DQ file made for TensorRT (signed symmetric
activations) its int8 detected nothing on a CPU without VNNI. The recipe (``NNCF_RECIPE``):

* ``nncf.quantize`` with the ``MIXED`` preset: symmetric weights, asymmetric activations.
* The detection-head tail (:func:`rtdetect.inference.onnx_tools.variants.head_node_names`: the last
  prediction convs, DFL, the box arithmetic, the final sigmoid/concat; found from the graph's structure,
  not from names, so for every YOLO family) in NNCF's ignored scope: it stays float.
* ``OverflowFix.ENABLE``: every convolution's weights quantized on half of the 8-bit range, so the 16-bit
  intermediates of 8-bit instructions without VNNI (AVX2, AVX-512 without VNNI) cannot saturate. NNCF's own
  documentation calls this the fix for the saturation issue of those CPUs; on CPUs with VNNI it costs a
  little weight precision and no speed.
* Min/max statistics over the frames, NNCF's fast bias correction.

NNCF's ONNX backend writes a Q/DQ ONNX that OpenVINO executes as integer arithmetic, so the result is one
file, cached and checksummed like every other variant. ``nncf`` is imported only when a model is quantized.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ...errors import ModelError
from .variants import head_node_names, inspect_onnx, name_unnamed_nodes, save_model, set_metadata

NNCF_RECIPE = "nncf-mixed-headignored-overflowfix-fastbias-v1"  # part of the calibration fingerprint


def import_nncf():
    """The ``nncf`` module, or ModelError saying how to get it."""
    try:
        import nncf
    except ImportError as exc:
        raise ModelError(f"OpenVINO INT8 needs NNCF ({exc}); pip install nncf (rtdetect's [int8] extra)") from None
    return nncf


@contextlib.contextmanager
def _nncf_quiet() -> Iterator[None]:
    """While the block runs, NNCF's log (a handler on stdout, which may carry a run's JSONL) says only errors
    and its progress bars (printed on ``sys.stdout``) go nowhere; both restored afterwards."""
    logger = logging.getLogger("nncf")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(before)


class _Tensors:
    """The calibration tensors, iterable more than once (NNCF may pass over its dataset again). ``count``:
    how many one pass yielded; ``on_frame(n)`` is called after each of the first pass (progress)."""

    def __init__(self, tensors: Callable[[], Iterable[np.ndarray]], on_frame: Callable[[int], None] | None) -> None:
        self._tensors = tensors
        self._on_frame = on_frame
        self._passes = 0
        self.count = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        self._passes += 1
        first = self._passes == 1
        for n, tensor in enumerate(self._tensors(), 1):
            if first:
                self.count = n
                if self._on_frame is not None:
                    self._on_frame(n)
            yield tensor


def write_int8_nncf(source: str | os.PathLike, target: str | os.PathLike, tensors: Callable[[], Iterable[np.ndarray]],
                    *, count: int, on_frame: Callable[[int], None] | None = None) -> Path:
    """Quantize the float32 ONNX ``source`` with NNCF (see the module docstring) on the tensors
    ``tensors()`` yields (frames prepared as its input: (1, 3, H, W) float32, letterboxed; NNCF uses at
    most ``count``; ``on_frame(n)`` after each, for progress) and write the Q/DQ ONNX to ``target`` (atomically). Metadata is copied; ``rtdetect.precision``
    = int8, ``rtdetect.quantizer`` = the recipe and ``rtdetect.calibration_frames`` are added. Raises
    ModelError when nncf is missing, the model is not float32, no frame was given, or quantization fails."""
    nncf = import_nncf()
    import onnx

    info = inspect_onnx(source)
    if info.input_dtype != "float32":
        raise ModelError(f"INT8 calibration needs a float32 ONNX; {source} takes {info.input_dtype}")
    model = onnx.load(str(source))
    name_unnamed_nodes(model)
    frames = _Tensors(tensors, on_frame)
    dataset = nncf.Dataset(frames, lambda tensor: {info.input_name: tensor})
    options = dict(preset=nncf.QuantizationPreset.MIXED, subset_size=count,
                   ignored_scope=nncf.IgnoredScope(names=sorted(head_node_names(model)), validate=False),
                   advanced_parameters=nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE))
    with _nncf_quiet():
        try:
            quantized = nncf.quantize(model, dataset, **options)
        except Exception as exc:  # NNCF's and ONNX Runtime's own errors while they run the model on the frames
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelError(f"INT8 quantization (NNCF) of {source} failed: {reason}") from exc
    if frames.count == 0:
        raise ModelError("INT8 calibration got no frames: check --calib-source")
    set_metadata(quantized, {**info.metadata, "rtdetect.precision": "int8", "rtdetect.quantizer": NNCF_RECIPE,
                             "rtdetect.calibration_frames": str(min(frames.count, count))})
    save_model(quantized, Path(target))
    return Path(target)
