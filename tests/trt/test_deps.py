"""Without tensorrt or pycuda the backend says what to install, and the availability probe never raises."""
import sys
import types

import pytest

from rtdetect.errors import ModelError
from rtdetect.inference import create_engine, tensorrt_available
from rtdetect.inference.tensorrt import TensorRTEngine, cuda_device_available
from rtdetect.trt.deps import import_cuda_driver, import_tensorrt
from rtdetect.trt.errors import TensorRTUnavailable

HINT = "pip install 'rtdetect[tensorrt]'"


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError


@pytest.fixture
def tensorrt_without_pycuda(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.13.3.9"))
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)


def test_missing_tensorrt_names_the_extra(no_tensorrt):
    with pytest.raises(TensorRTUnavailable, match=HINT.replace("[", r"\[").replace("]", r"\]")):
        import_tensorrt()
    assert issubclass(TensorRTUnavailable, ModelError)  # the CLI prints it as one line


def test_missing_pycuda_names_the_extra(tensorrt_without_pycuda):
    with pytest.raises(TensorRTUnavailable, match="pycuda .*rtdetect\\[tensorrt\\]"):
        import_cuda_driver()


@pytest.mark.parametrize("setup", ["no_tensorrt", "tensorrt_without_pycuda"])
def test_engine_creation_fails_with_one_clear_line(request, setup, tiny_onnx):
    request.getfixturevalue(setup)
    for make in (lambda: TensorRTEngine(str(tiny_onnx), imgsz=(32, 32)),
                 lambda: create_engine(str(tiny_onnx), backend="tensorrt", imgsz=(32, 32))):
        with pytest.raises(TensorRTUnavailable) as info:
            make()
        assert HINT in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("setup", [None, "no_tensorrt", "tensorrt_without_pycuda"])
def test_cuda_device_available_is_false_here_without_raising(request, setup):
    if setup:
        request.getfixturevalue(setup)
    assert cuda_device_available() is False
    assert tensorrt_available() is False


def test_auto_backend_falls_back_to_the_cpu(tiny_onnx, tmp_path):
    engine = create_engine(str(tiny_onnx), backend="auto", imgsz=(32, 32), cache_dir=str(tmp_path))
    try:
        assert engine.name in ("onnxruntime", "openvino")  # the CPU engine measured fastest here
    finally:
        engine.close()


def test_missing_model_file_is_reported_before_any_import(tmp_path, no_tensorrt):
    with pytest.raises(ModelError, match="not found"):
        TensorRTEngine(str(tmp_path / "missing.onnx"))
