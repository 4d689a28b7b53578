"""Fixtures for the TensorRT tests: tiny ONNX detectors made on the spot, and a fake TensorRT toolkit.

The fake stands in for :class:`rtdetect.inference.tensorrt.toolkit.TensorRTToolkit` only to exercise rtdetect's own
cache logic (keys, validation, rebuilds) on machines without a GPU; it proves nothing about TensorRT.
"""
from __future__ import annotations

import hashlib
import os
import sys

import pytest

from pipeline.helpers import make_tiny_detector  # noqa: F401 (used by the TensorRT tests)
from rtdetect.gpu.device import DeviceInfo
from rtdetect.inference.tensorrt.errors import EngineLoadError

FAKE_MAGIC = b"FAKEPLAN"


class FakeToolkit:
    """Pretends to be TensorRT: ``serialize`` returns FAKE_MAGIC + a hash of its inputs and counts builds.
    For testing rtdetect's cache logic only (no TensorRT, no GPU)."""

    def __init__(self, trt_version="10.13.3.9", gpu=("Fake GPU 4090", (8, 9))):
        self.trt_version = trt_version
        self.device_info = DeviceInfo(0, gpu[0], gpu[1])
        self.builds = []

    def serialize(self, onnx_path, recipe, input_name, shapes, timing_cache):
        self.builds.append((onnx_path, recipe, input_name, tuple(shapes), timing_cache))
        timing_cache.write_bytes(timing_cache.read_bytes() + b"t" if timing_cache.exists() else b"t")
        digest = hashlib.sha256(f"{onnx_path}|{recipe}|{shapes}".encode()).digest()
        return FAKE_MAGIC + digest * 8

    def can_deserialize(self, data):
        return data.startswith(FAKE_MAGIC)


def fake_load(data: bytes):
    """Stands in for EngineRunner: 'deserialises' only fake plans (TensorRT returns None otherwise)."""
    if not data.startswith(FAKE_MAGIC):
        raise EngineLoadError("TensorRT could not deserialise the engine (fake)")
    return {"plan": data}


@pytest.fixture
def tiny_onnx(tmp_path):
    return make_tiny_detector(tmp_path / "tiny.onnx")


@pytest.fixture
def tiny_dynamic_onnx(tmp_path):
    return make_tiny_detector(tmp_path / "tiny_dyn.onnx", batch=None)


@pytest.fixture
def messages():
    return []


@pytest.fixture
def cuda(monkeypatch):
    """The fake pycuda (tests/fake_pycuda.py) installed in sys.modules, with its fake libcuda, and no NVRTC
    (a test that wants one installs tests/fake_pycuda.py's FakeNvrtc)."""
    from fake_pycuda import FakeCudaDriver, install, install_nvrtc

    install_nvrtc(monkeypatch, None)
    return install(monkeypatch, FakeCudaDriver())


@pytest.fixture
def install_trt(monkeypatch):
    """``install_trt(version)`` puts a fake ``tensorrt`` (tests/trt/fake_trt.py) in sys.modules."""
    from .fake_trt import make_fake_tensorrt

    def install(version="10.13.3.9", **options):
        trt = make_fake_tensorrt(version, **options)
        monkeypatch.setitem(sys.modules, "tensorrt", trt)
        return trt
    return install


@pytest.fixture
def fake_nvcc(tmp_path, monkeypatch):
    """An ``nvcc`` first on PATH (never run: the readiness check only looks for it), so the tests of
    ``--backend auto`` do not depend on the machine's CUDA toolkit."""
    folder = tmp_path / "fake-nvcc"
    folder.mkdir()
    (folder / "nvcc").write_text("#!/bin/sh\nexit 1\n")
    (folder / "nvcc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ.get('PATH', '')}")
    return folder / "nvcc"
