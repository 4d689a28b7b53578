"""OpenVINO on the CPU: the same ONNX files as ONNX Runtime (ours and foreign ones), fp32 | bf16 | int8,
with two infer requests in flight so that inference overlaps the pipeline's other stages.

* fp32: ``INFERENCE_PRECISION_HINT=f32``, set explicitly because on CPUs with bfloat16 units OpenVINO
  would otherwise silently compute in bf16.
* bf16: ``INFERENCE_PRECISION_HINT=bf16``, only where OpenVINO lists ``BF16`` among the CPU's
  ``OPTIMIZATION_CAPABILITIES`` (AVX512_BF16 or AMX); elsewhere OpenVINO would quietly run f32, so
  asking for it is an error rather than a mislabelled figure.
* int8: the OpenVINO IR of NNCF's post-training quantization (:mod:`rtdetect.inference.onnx_tools.nncf_quantize`,
  made by :func:`rtdetect.inference.int8.int8_model`, one ``.ir.tar`` file), which OpenVINO executes as
  integer arithmetic; the float parts (the detection head) stay f32.

openvino is imported only when an engine is created.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numpy as np

from ..errors import ModelError
from .base import inference_failed
from .onnx_tools.nncf_quantize import IR_SUFFIX, read_ir
from .openvino_loader import import_openvino

PRECISIONS = ("fp32", "bf16", "int8")
_SOURCE_LOCATION = re.compile(r"^(Exception from \S+:\d+:|Check '.*' failed at \S+:\d+:)$")
IN_FLIGHT = 2
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
_DTYPES = {"f32": np.float32, "f16": np.float16}


def cpu_capabilities() -> tuple[str, ...]:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of this CPU, e.g. ('FP32', 'INT8', 'BIN', 'EXPORT_IMPORT');
    () when openvino is missing."""
    try:
        ov = import_openvino()
    except ModelError:
        return ()
    import openvino.properties.device as device

    return tuple(str(c) for c in ov.Core().get_property("CPU", device.capabilities))


def error_message(exc: BaseException) -> str:
    """What an OpenVINO exception says went wrong. OpenVINO puts one ``Exception from FILE:LINE:`` line per
    layer (and ``Check '...' failed at FILE:LINE:``) before its message, so the first line names a source
    file only: the last two other lines are kept, joined into one."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    meaningful = [line.rstrip(":") for line in lines if not _SOURCE_LOCATION.match(line)]
    return ": ".join(meaningful[-2:]) or (lines[0] if lines else type(exc).__name__)


def unsupported_reason(precision: str, capabilities: tuple[str, ...]) -> str | None:
    """Why OpenVINO cannot compute in ``precision`` on a CPU with ``capabilities``, or None."""
    if precision not in PRECISIONS:
        return f"OpenVINO precision must be one of {', '.join(PRECISIONS)}, not {precision!r}"
    needed = {"fp32": "FP32", "bf16": "BF16", "int8": "INT8"}[precision]
    if needed not in capabilities:
        have = ", ".join(capabilities) or "nothing (is openvino installed?)"
        return f"{precision} needs a CPU that OpenVINO reports as {needed}-capable; this one reports {have}"
    return None


def _metadata(model) -> dict[str, str]:
    """The ONNX ``metadata_props`` as OpenVINO keeps them (``rt_info['framework']``)."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    return {str(k): v.astype(str) for k, v in info["framework"].items()}


def _static_hw(partial_shape, fallback: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of an NCHW input whose H/W may be dynamic (then ``fallback``)."""
    dims = [d.get_length() if d.is_static else None for d in partial_shape]
    return (dims[2] or fallback[0], dims[3] or fallback[1])


class OpenVinoEngine:
    """An OpenVINO ``CompiledModel`` on the CPU behind the ``Engine`` protocol.

    model_path: an ONNX file (for int8 the Q/DQ file); precision: fp32 | bf16 | int8 (see the module
    docstring); imgsz: (H, W) when the input size is dynamic (the model is reshaped to it); batch: the
    largest batch ``infer`` will get (a dynamic batch dimension is bounded to 1..batch; ``max_batch`` is
    what the compiled model takes: 1 for a model whose batch is fixed at 1); threads:
    ``INFERENCE_NUM_THREADS`` (default: OpenVINO's, all cores); hint: ``PERFORMANCE_HINT`` (LATENCY:
    one stream using every core, the requests queue behind each other without a gap).

    ``infer(tensor)`` runs one synchronous request; ``submit(tensor)`` starts one of ``max_in_flight`` (2)
    asynchronous requests and returns a Future of its outputs (copied out of the request, float32), or of
    the ``InferenceError`` it failed with. OpenVINO calls a request's callback only when it succeeds (its
    ``AsyncInferQueue`` then even loses the failure until a later request), and a failed request says so only
    from ``wait()``: so one collector thread waits for each started request in turn and settles its Future.
    """

    name = "openvino"

    def __init__(self, model_path: str, *, precision: str = "fp32", imgsz: tuple[int, int] = (640, 640),
                 batch: int = 1, threads: int | None = None, hint: str = "LATENCY") -> None:
        ov = import_openvino()
        if not os.path.isfile(model_path):
            raise ModelError(f"model file not found: {model_path}")
        reason = unsupported_reason(precision, cpu_capabilities())
        if reason is not None:
            raise ModelError(f"--backend openvino: {reason}")
        core = ov.Core()
        model = self._read(ov, core, model_path, imgsz, batch)
        config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": _HINTS[precision]}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self._compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:  # a graph OpenVINO's CPU plugin cannot run
            raise ModelError(f"OpenVINO cannot compile {model_path}: {error_message(exc)}") from None
        self._request = self._compiled.create_infer_request()
        self._requests = [self._compiled.create_infer_request() for _ in range(IN_FLIGHT)]
        self._started: list[Future | None] = [None] * IN_FLIGHT  # each request's latest submission
        self._next = 0  # the request the next submission uses (round robin: they finish in that order)
        self._collector = ThreadPoolExecutor(1, thread_name_prefix="rtdetect:openvino")
        self.max_in_flight = IN_FLIGHT
        self.precision = precision
        shape = model.input(0).get_partial_shape()
        self.input_hw = _static_hw(shape, imgsz)
        self.max_batch = shape[0].get_max_length()
        self.input_dtype = np.dtype(_DTYPES[model.input(0).get_element_type().get_type_name()])
        self.output_names = [o.get_any_name() for o in model.outputs]
        self.metadata = _metadata(model)
        self.path = model_path

    @staticmethod
    def _read(ov, core, model_path: str, imgsz: tuple[int, int], batch: int):
        """The model, checked to be an image detector, with a dynamic H/W fixed to ``imgsz`` and a dynamic
        batch bounded to 1..``batch`` (fixed at 1 when ``batch`` is 1)."""
        try:
            model = read_ir(core, model_path) if model_path.endswith(IR_SUFFIX) else core.read_model(model_path)
        except ModelError:
            raise
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own for any bad file
            raise ModelError(f"cannot load ONNX model {model_path}: {error_message(exc)}") from None
        inputs = model.inputs
        shape = inputs[0].get_partial_shape() if len(inputs) == 1 else None
        if shape is None or shape.rank.get_length() != 4 or not shape[1].compatible(ov.Dimension(3)):
            raise ModelError(f"{model_path} is not an image detector: expected one (N, 3, H, W) input, "
                             f"got {[str(i.get_partial_shape()) for i in inputs]}")
        if inputs[0].get_element_type().get_type_name() not in _DTYPES:
            raise ModelError(f"{model_path}: unsupported input type {inputs[0].get_element_type()}")
        if shape.is_dynamic:
            if shape[0].is_static:
                dim = shape[0]
            else:
                dim = ov.Dimension(1, batch) if batch > 1 else ov.Dimension(1)
            h, w = _static_hw(shape, imgsz)
            model.reshape(ov.PartialShape([dim, ov.Dimension(3), ov.Dimension(h), ov.Dimension(w)]))
        return model

    @staticmethod
    def _outputs(request) -> list[np.ndarray]:
        """The request's outputs as float32 arrays that own their memory (the request is reused)."""
        return [np.array(t.data, dtype=np.float32, copy=True) for t in request.output_tensors]

    def _collect(self, request) -> list[np.ndarray]:
        """The outputs of the started ``request`` once it is done (collector thread); InferenceError when it
        failed (``wait`` raises OpenVINO's error)."""
        try:
            request.wait()
        except Exception as exc:  # OpenVINO raises RuntimeError, or MemoryError, for a failed request
            raise inference_failed(self.name, error_message(exc)) from exc
        return self._outputs(request)

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """(B, 3, H, W) ``input_dtype`` → outputs as float32 arrays, in model order; InferenceError when
        OpenVINO cannot run it."""
        try:
            self._request.infer({0: tensor})
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise inference_failed(self.name, error_message(exc)) from exc
        return self._outputs(self._request)

    def submit(self, tensor: np.ndarray) -> Future:
        """Start inference on ``tensor`` (copied into the request) and return a Future of its outputs.
        Blocks only while ``max_in_flight`` requests are already running (until the oldest is collected)."""
        slot = self._next
        self._next = (slot + 1) % IN_FLIGHT
        previous = self._started[slot]
        if previous is not None:
            wait([previous])
        request = self._requests[slot]
        try:
            request.start_async({0: tensor})
        except Exception as exc:  # refused before it ran (e.g. a tensor of another shape)
            future: Future = Future()
            future.set_exception(inference_failed(self.name, error_message(exc)))
        else:
            future = self._collector.submit(self._collect, request)
        self._started[slot] = future
        return future

    def close(self) -> None:
        """Wait for every started request (none may run while the model is freed), then free everything."""
        collector, self._collector = getattr(self, "_collector", None), None
        if collector is not None:
            collector.shutdown(wait=True)
        self._requests, self._started = [], []
        self._request = self._compiled = None

    def __enter__(self) -> "OpenVinoEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
