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

NNCF quantizes the model as OpenVINO reads it (its OpenVINO backend): on an Intel Xeon with VNNI/AMX that
ran 2x faster than fp32, while the Q/DQ ONNX of NNCF's ONNX backend, although OpenVINO ran its convolutions
in i8, ran at fp32 speed (benchmarks/README.md). The quantized model is OpenVINO IR (an .xml graph and a
.bin of weights); it is cached as one file, a tar of the two (``IR_SUFFIX``, :func:`read_ir`), so that it
is written atomically and checksummed like every other variant. ``nncf`` is imported only when a model is
quantized.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ...atomic import atomic_write_bytes
from ...errors import ModelError
from .variants import head_node_names, inspect_onnx, name_unnamed_nodes

NNCF_RECIPE = "nncf-ov-mixed-headignored-overflowfix-fastbias-v1"  # part of the calibration fingerprint
IR_SUFFIX = ".ir.tar"  # OpenVINO IR (model.xml + model.bin) in one tar
_IR_MEMBERS = ("model.xml", "model.bin")


def write_ir(model, target: Path) -> None:
    """Save the OpenVINO ``model`` as IR into one tar at ``target`` (atomically)."""
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="rtdetect-ir-") as tmp:
        ov.save_model(model, str(Path(tmp) / _IR_MEMBERS[0]), compress_to_fp16=False)
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w") as tar:
            for name in _IR_MEMBERS:
                tar.add(str(Path(tmp) / name), arcname=name)
    atomic_write_bytes(target, packed.getvalue())


def read_ir(core, path: str | os.PathLike):
    """The OpenVINO model in the IR tar at ``path`` (:func:`write_ir`); ModelError when it is not one."""
    try:
        with tarfile.open(str(path)) as tar:
            xml, weights = (tar.extractfile(name).read() for name in _IR_MEMBERS)
    except (OSError, tarfile.TarError, KeyError, AttributeError) as exc:
        raise ModelError(f"cannot read the OpenVINO model {path}: {exc}") from None
    return core.read_model(xml, weights)


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
    most ``count``; ``on_frame(n)`` after each, for progress) and write the OpenVINO IR tar to ``target``
    (atomically, :func:`write_ir`). Metadata is kept; ``rtdetect.precision`` = int8, ``rtdetect.quantizer``
    = the recipe and ``rtdetect.calibration_frames`` are added. Raises ModelError when nncf is missing, the model is not float32, no frame was given, or quantization fails."""
    nncf = import_nncf()
    import onnx

    from ..openvino_loader import import_openvino

    info = inspect_onnx(source)
    if info.input_dtype != "float32":
        raise ModelError(f"INT8 calibration needs a float32 ONNX; {source} takes {info.input_dtype}")
    named = onnx.load(str(source))
    name_unnamed_nodes(named)  # OpenVINO names its operations after the ONNX nodes: the ignored scope uses them
    head = sorted(head_node_names(named))
    model = import_openvino().Core().read_model(named.SerializeToString(), b"")
    frames = _Tensors(tensors, on_frame)
    dataset = nncf.Dataset(frames, lambda tensor: {info.input_name: tensor})
    options = dict(preset=nncf.QuantizationPreset.MIXED, subset_size=count,
                   ignored_scope=nncf.IgnoredScope(names=head, validate=False),
                   advanced_parameters=nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE))
    with _nncf_quiet():
        try:
            quantized = nncf.quantize(model, dataset, **options)
        except Exception as exc:  # NNCF's and ONNX Runtime's own errors while they run the model on the frames
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelError(f"INT8 quantization (NNCF) of {source} failed: {reason}") from exc
    if frames.count == 0:
        raise ModelError("INT8 calibration got no frames: check --calib-source")
    added = {"rtdetect.precision": "int8", "rtdetect.quantizer": NNCF_RECIPE,
             "rtdetect.calibration_frames": str(min(frames.count, count))}
    for key, value in added.items():  # beside the ONNX metadata OpenVINO keeps in rt_info["framework"]
        quantized.set_rt_info(value, ["framework", key])
    write_ir(quantized, Path(target))
    return Path(target)
