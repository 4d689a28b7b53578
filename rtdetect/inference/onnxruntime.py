"""ONNX Runtime on the CPU: the backend that works everywhere."""
from __future__ import annotations

import os

import numpy as np

from ..errors import ModelError
from .base import SynchronousSubmit, check_input_hw, inference_failed
from .onnx_tools.runtime import QUIET_LOG_SEVERITY, quiet_onnxruntime

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
X64_QUANT_PRECISION = "session.x64quantprecision"


def _static_hw(shape, fallback: tuple[int, int]) -> tuple[int, int]:
    """(H, W) from an NCHW input shape whose H/W may be symbolic (then ``fallback`` is used)."""
    h, w = shape[2], shape[3]
    return (h if isinstance(h, int) and h > 0 else fallback[0], w if isinstance(w, int) and w > 0 else fallback[1])


class OnnxRuntimeEngine(SynchronousSubmit):
    """An ``onnxruntime.InferenceSession`` tuned for one-frame-at-a-time latency.

    threads: intra-op threads (default: all cores); graph optimisations all on; sequential execution.
    ``imgsz`` is used only when the model's input H/W are dynamic. ``spinning``: whether idle intra-op
    threads busy-wait for work (``session.intra_op.allow_spinning``; None keeps ONNX Runtime's default,
    which spins). Not spinning leaves the cores to the pipeline's other stages between parallel sections.
    ``max_batch``: the batch the model's input is fixed at (1 for rtdetect's static exports), or None when
    the batch is dynamic. ``precision``: fp16 for a float16 model, int8 for a Q/DQ model of :mod:`rtdetect.inference.onnx_tools.quantize`, else fp32.
    ``session_config``: the session config entries set (``session.x64quantprecision`` always: see ``__init__``).
    """

    name = "onnxruntime"

    def __init__(self, model_path: str, *, threads: int | None = None, imgsz: tuple[int, int] = (640, 640),
                 spinning: bool | None = None) -> None:
        ort = quiet_onnxruntime()
        if not os.path.isfile(model_path):
            raise ModelError(f"model file not found: {model_path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = QUIET_LOG_SEVERITY
        # u8s8 integer kernels of x86 CPUs without VNNI saturate their 16-bit intermediates; with this
        # entry ORT converts int8 weights to uint8 (u8u8, exact) on exactly those CPUs and changes nothing
        # elsewhere, nor for a float model (ORT's session option header, session.x64quantprecision).
        self.session_config = {X64_QUANT_PRECISION: "1"}
        if spinning is not None:
            self.session_config["session.intra_op.allow_spinning"] = "1" if spinning else "0"
        for key, value in self.session_config.items():
            options.add_session_config_entry(key, value)
        try:
            self._session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types for every kind of bad file
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load ONNX model {model_path}: {first_line}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] not in (3, "3"):
            shapes = [tuple(i.shape) for i in inputs]
            raise ModelError(f"{model_path} is not an image detector: expected one (N, 3, H, W) input, got {shapes}")
        if inputs[0].type not in _DTYPES:
            raise ModelError(f"{model_path}: unsupported input type {inputs[0].type}")
        self._input_name = inputs[0].name
        self.input_dtype = np.dtype(_DTYPES[inputs[0].type])
        self.input_hw = _static_hw(inputs[0].shape, imgsz)
        batch = inputs[0].shape[0]
        self.max_batch = batch if isinstance(batch, int) and batch > 0 else None  # None: any batch
        check_input_hw(self.input_hw, model_path)
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.precision = self.metadata.get("rtdetect.precision") or ("fp16" if self.input_dtype == np.float16 else "fp32")
        self.path = model_path

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """(B, 3, H, W) ``input_dtype`` → outputs as float32 arrays, in model order; InferenceError when
        ONNX Runtime cannot run it."""
        try:
            outputs = self._session.run(None, {self._input_name: tensor})
        except Exception as exc:  # ORT raises its own exception types (Fail, InvalidArgument, ...) at run time
            raise inference_failed(self.name, str(exc) or type(exc).__name__) from exc
        return [o if o.dtype == np.float32 else o.astype(np.float32) for o in outputs]

    def close(self) -> None:
        self._session = None

    def __enter__(self) -> "OnnxRuntimeEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
