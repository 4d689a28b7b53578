"""A tiny stand-in for the ``tensorrt`` module, for running rtdetect's TensorRT code paths on the CPU.

It has the classes and methods rtdetect calls (Builder, OnnxParser, IBuilderConfig, optimisation profiles,
timing cache, Runtime, ICudaEngine, IExecutionContext), records what it was asked, and "infers" a fixed
arithmetic function of the input: ``output0[b, c, k] = mean(input[b]) * (c + 1) + k``. Its TensorRT 11
flavour has no ``BuilderFlag.FP16``/``INT8`` (removed in 11), so asking for them fails as it would there.
It checks rtdetect's use of the API (names, call order, shapes, buffers), not TensorRT's behaviour.

Where the real library differs by version or fails, the fake does too: ``NetworkDefinitionCreationFlag.
STRONGLY_TYPED`` is 1 on 10.x and 0 on 11.x (deprecated there, always on); ``cuda_ok=False`` makes
``Builder()`` / ``Runtime()`` raise pybind11's ``TypeError`` (the C++ factory returned nullptr: TensorRT could
not initialise CUDA); ``build_returns_none`` makes ``build_serialized_network`` return None; an invalid
optimisation profile makes ``add_optimization_profile`` return -1 and the build fail; ``io_dtype`` gives the
engine float16 (or other) I/O tensors; ``execute_async_v3`` queues its work on the fake pycuda stream whose
handle it is given.
"""
from __future__ import annotations

import ctypes
import json
import sys
import types

import numpy as np

PLAN_MAGIC = b"FAKETRT1"
OUTPUT_CHANNELS, OUTPUT_ANCHORS = 6, 10


def make_fake_tensorrt(version: str = "10.13.3.9", *, log: list | None = None, cuda_ok: bool = True,
                       build_returns_none: bool = False, io_dtype=np.float32):
    """A module-like object; ``log`` collects (call, details) tuples (see the module docstring for the rest)."""
    calls = [] if log is None else log
    major = int(version.split(".")[0])
    flags = {"TF32": "TF32"} if major >= 11 else {"FP16": "FP16", "INT8": "INT8", "TF32": "TF32"}
    trt = types.SimpleNamespace(
        __version__=version,
        Logger=_logger_class(),
        BuilderFlag=types.SimpleNamespace(**flags),
        NetworkDefinitionCreationFlag=types.SimpleNamespace(STRONGLY_TYPED=0 if major >= 11 else 1),
        MemoryPoolType=types.SimpleNamespace(WORKSPACE="WORKSPACE"),
        TensorIOMode=types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT"),
        nptype=_nptype,
        calls=calls,
    )
    trt.Builder = _factory(cuda_ok, lambda: FakeBuilder(calls, build_returns_none))
    trt.OnnxParser = lambda network, logger: FakeParser(network, calls)
    trt.Runtime = _factory(cuda_ok, lambda: FakeRuntime(calls, np.dtype(io_dtype)))
    return trt


def _nptype(dtype):
    """``trt.nptype``: the NumPy type of a TensorRT DataType; TypeError for one NumPy lacks (bfloat16)."""
    if dtype == "bfloat16":
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")
    return np.dtype(dtype)


def _factory(cuda_ok: bool, make):
    """``trt.Builder(logger)`` / ``trt.Runtime(logger)``: pybind11 raises this TypeError when the C++
    factory returns nullptr (TensorRT could not initialise CUDA)."""
    def create(logger):
        if not cuda_ok:
            raise TypeError("pybind11::init(): factory function returned nullptr")
        return make()
    return create


def _logger_class():
    class Logger:
        ERROR, WARNING, INFO = 1, 2, 3

        def __init__(self, severity=2):
            self.severity = severity
    return Logger


class FakeParser:
    def __init__(self, network, calls):
        self.network, self.calls, self.num_errors = network, calls, 0

    def parse_from_file(self, path):
        import onnx
        from google.protobuf.message import DecodeError

        self.calls.append(("parse_from_file", str(path)))
        try:
            model = onnx.load(str(path), load_external_data=False)
        except (OSError, ValueError, DecodeError) as exc:
            self.num_errors = 1
            self.error = f"cannot read: {exc}"
            return False
        self.network.input_name = model.graph.input[0].name
        return True

    def get_error(self, index):
        return self.error


class FakeBuilder:
    def __init__(self, calls, returns_none=False):
        self.calls, self.returns_none = calls, returns_none

    def create_network(self, flags):
        self.calls.append(("create_network", flags))
        return types.SimpleNamespace(flags=flags, input_name=None)

    def create_builder_config(self):
        return FakeConfig(self.calls)

    def create_optimization_profile(self):
        return FakeProfile()

    def build_serialized_network(self, network, config):
        self.calls.append(("build", sorted(config.flags), sorted(config.cleared)))
        if self.returns_none or not config.profiles:  # TensorRT logs the reason and returns None
            return None
        (name, shapes), = config.profiles[0].shapes.items()
        header = {"input": name, "min": shapes[0], "opt": shapes[1], "max": shapes[2],
                  "strongly_typed": bool(network.flags)}
        return PLAN_MAGIC + json.dumps(header).encode()


class FakeProfile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, min_shape, opt_shape, max_shape):
        self.shapes[name] = (list(min_shape), list(opt_shape), list(max_shape))

    def is_valid(self):
        return bool(self.shapes) and all(lo <= op <= hi for low, opt, high in self.shapes.values()
                                         for lo, op, hi in zip(low, opt, high, strict=True))


class FakeTimingCache:
    def __init__(self, data):
        self.data = bytes(data)

    def serialize(self):
        return self.data + b"+"


class FakeConfig:
    def __init__(self, calls):
        self.calls, self.flags, self.cleared, self.profiles, self._cache = calls, set(), set(), [], None

    def set_memory_pool_limit(self, pool, size):
        self.calls.append(("workspace", pool, size))

    def set_flag(self, flag):
        self.flags.add(flag)

    def clear_flag(self, flag):
        self.cleared.add(flag)

    def add_optimization_profile(self, profile):
        if not profile.is_valid():
            return -1  # what IBuilderConfig.add_optimization_profile does with an invalid profile
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def create_timing_cache(self, data):
        return FakeTimingCache(data)

    def set_timing_cache(self, cache, ignore_mismatch):
        self.calls.append(("set_timing_cache", cache.data, ignore_mismatch))
        self._cache = cache
        return True

    def get_timing_cache(self):
        return self._cache


class FakeRuntime:
    def __init__(self, calls, io_dtype=np.dtype(np.float32)):
        self.calls, self.io_dtype = calls, io_dtype

    def deserialize_cuda_engine(self, data):
        data = bytes(data)
        self.calls.append(("deserialize", len(data)))
        if not data.startswith(PLAN_MAGIC):
            return None  # what TensorRT does with a plan it cannot read
        return FakeEngine(json.loads(data[len(PLAN_MAGIC):]), self.calls, self.io_dtype)


class FakeEngine:
    """One input (dynamic batch per the profile) and one output (B, 6, 10), both ``io_dtype``."""

    def __init__(self, header, calls, io_dtype=np.dtype(np.float32)):
        self.header, self.calls, self.io_dtype = header, calls, io_dtype
        self.input_name = header["input"]
        self.num_io_tensors = 2

    def get_tensor_name(self, index):
        return [self.input_name, "output0"][index]

    def get_tensor_mode(self, name):
        return "INPUT" if name == self.input_name else "OUTPUT"

    def get_tensor_dtype(self, name):
        return self.io_dtype

    def get_tensor_shape(self, name):
        dynamic = self.header["min"][0] != self.header["max"][0]
        batch = -1 if dynamic else self.header["max"][0]
        return (batch, *self.header["max"][1:]) if name == self.input_name else (batch, OUTPUT_CHANNELS, OUTPUT_ANCHORS)

    def get_tensor_profile_shape(self, name, profile):
        return [tuple(self.header[k]) for k in ("min", "opt", "max")]

    def create_execution_context(self):
        return FakeExecutionContext(self)


class FakeExecutionContext:
    def __init__(self, engine):
        self.engine, self.addresses, self.input_shape = engine, {}, None

    def set_input_shape(self, name, shape):
        self.engine.calls.append(("set_input_shape", tuple(shape)))
        low, high = self.engine.header["min"], self.engine.header["max"]
        if not all(lo <= s <= hi for lo, s, hi in zip(low, shape, high, strict=True)):
            return False
        self.input_shape = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        if name == self.engine.input_name:
            return self.input_shape
        return (self.input_shape[0], OUTPUT_CHANNELS, OUTPUT_ANCHORS)

    def set_tensor_address(self, name, address):
        if not isinstance(address, int):  # the binding takes an int, not a pycuda DeviceAllocation
            raise TypeError(f"set_tensor_address(): incompatible address {type(address).__name__}")
        self.engine.calls.append(("set_tensor_address", name))
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle):
        if not isinstance(stream_handle, int):  # the binding takes the stream's handle, not the Stream
            raise TypeError(f"execute_async_v3(): incompatible stream_handle {type(stream_handle).__name__}")
        self.engine.calls.append(("execute_async_v3", self.input_shape[0]))
        stream = sys.modules["pycuda.driver"].streams.get(stream_handle)
        if stream is None:
            raise RuntimeError(f"execute_async_v3: {stream_handle:#x} is not a stream handle")
        shape, dtype = self.input_shape, self.engine.io_dtype
        stream.enqueue(lambda: self._run(shape, dtype))  # runs when the stream does, like the GPU
        return True

    def _run(self, shape, dtype):
        count = int(np.prod(shape)) * dtype.itemsize
        source = (ctypes.c_uint8 * count).from_address(self.addresses[self.engine.input_name])
        inputs = np.frombuffer(source, dtype).reshape(shape).astype(np.float32)
        batch = shape[0]
        out = inputs.reshape(batch, -1).mean(axis=1)[:, None, None] * np.arange(1, OUTPUT_CHANNELS + 1)[None, :, None]
        out = (out + np.arange(OUTPUT_ANCHORS)[None, None, :]).astype(dtype)
        ctypes.memmove(self.addresses["output0"], out.ctypes.data, out.nbytes)
