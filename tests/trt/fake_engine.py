"""An ONNX Runtime stand-in for the TensorRT engine on the fake pycuda (tests/fake_pycuda.py): ``OrtRunner``
has ``rtdetect.inference.tensorrt.runner.EngineRunner``'s attributes (named I/O tensor specs, device
buffers, ``enqueue``, the device's primary context) and runs ONNX Runtime on those "device" buffers in place,
queued on its stream; ``FakeEngine`` has what the GPU pipeline reads of ``TensorRTEngine``. With the kernel
emulator they test rtdetect's zero-copy wiring and its synchronisation, not TensorRT.
"""
from __future__ import annotations

import sys
from unittest import mock

import numpy as np

from fake_pycuda import FakeCudaDriver, device_view, modules
from rtdetect.gpu.device import PrimaryContext
from rtdetect.inference.tensorrt.runner import TensorSpec


class OrtRunner:
    """Stands in for EngineRunner at batch 1: ONNX Runtime runs on the engine's "device" buffers in place."""

    def __init__(self, model_path, cuda: FakeCudaDriver):
        import onnxruntime as ort

        with mock.patch.dict(sys.modules, modules(cuda)):  # the real PrimaryContext, on the fake driver
            self.context = PrimaryContext(0)

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.cuda, self.stream = cuda, cuda.Stream()
        inp = self._session.get_inputs()[0]
        self.inputs = [TensorSpec(inp.name, True, np.dtype(np.float32), tuple(inp.shape), tuple(inp.shape))]
        probe = self._session.run(None, {inp.name: np.zeros(inp.shape, np.float32)})
        self.outputs = [TensorSpec(o.name, False, np.dtype(np.float32), a.shape, a.shape)
                        for o, a in zip(self._session.get_outputs(), probe, strict=True)]
        self.output_shapes = {s.name: s.max_shape for s in self.outputs}
        with self.context.active():
            self.device = {s.name: cuda.mem_alloc(s.max_bytes) for s in self.inputs + self.outputs}
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.enqueues = 0

    @property
    def input(self):
        return self.inputs[0]

    def set_batch(self, batch):
        if batch != 1:
            raise ValueError("the fake runner is batch 1")

    def enqueue(self):
        self.stream.enqueue(self._run)

    def _run(self):
        source = self.input
        tensor = device_view(self.device[source.name], source.max_shape, source.dtype).copy()
        values = self._session.run(None, {source.name: tensor})
        for spec, value in zip(self.outputs, values, strict=True):
            device_view(self.device[spec.name], spec.max_shape, spec.dtype)[...] = value
        self.enqueues += 1


class FakeEngine:
    """The attributes of TensorRTEngine the GPU pipeline reads, around an OrtRunner."""

    def __init__(self, runner: OrtRunner):
        self.runner = runner
        self.metadata = runner.metadata
        self.input_hw = tuple(int(d) for d in runner.input.max_shape[2:4])
        self.device = 0
