"""Without tensorrt or pycuda the backend says what to install, and the availability probe never raises.
Most tests take tensorrt/pycuda away themselves; the ``no_gpu`` ones check this machine as it is."""
import re
import sys
import types

import pytest

from rtdetect.errors import ModelError, RtdetectError
from rtdetect.gpu.device import import_driver
from rtdetect.gpu.errors import INSTALL_HINT as HINT
from rtdetect.gpu.errors import CudaUnavailableError
from rtdetect.inference import create_engine, tensorrt_available
from rtdetect.trial_inputs import MediaFrames
from rtdetect.inference.tensorrt import TensorRTEngine
from rtdetect.inference.tensorrt.deps import import_tensorrt
from rtdetect.inference.tensorrt.errors import TensorRTUnavailable
from rtdetect.inference.tensorrt.readiness import cuda_device_available


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError


@pytest.fixture
def tensorrt_without_pycuda(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.13.3.9"))
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)


def test_missing_tensorrt_names_the_extra(no_tensorrt):
    with pytest.raises(TensorRTUnavailable, match=re.escape(HINT)):
        import_tensorrt()
    assert issubclass(TensorRTUnavailable, ModelError)  # the CLI prints it as one line


def test_missing_pycuda_names_the_extra(tensorrt_without_pycuda):
    with pytest.raises(CudaUnavailableError, match="pycuda is not installed: " + re.escape(HINT)):
        import_driver()
    assert issubclass(CudaUnavailableError, RtdetectError)


@pytest.mark.parametrize("setup", ["no_tensorrt", "tensorrt_without_pycuda"])
def test_engine_creation_fails_with_one_clear_line(request, setup, tiny_onnx):
    request.getfixturevalue(setup)
    for make in (lambda: TensorRTEngine(str(tiny_onnx), imgsz=(32, 32)),
                 lambda: create_engine(str(tiny_onnx), backend="tensorrt", imgsz=(32, 32))):
        with pytest.raises(RtdetectError) as info:
            make()
        assert HINT in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("setup", [pytest.param(None, marks=pytest.mark.no_gpu), "no_tensorrt",
                                   "tensorrt_without_pycuda"])
def test_cuda_device_available_is_false_here_without_raising(request, setup):
    if setup:
        request.getfixturevalue(setup)
    assert cuda_device_available() is False
    assert tensorrt_available() is False


@pytest.mark.no_gpu
def test_auto_backend_falls_back_to_the_cpu(tiny_onnx, tmp_path):
    engine = create_engine(str(tiny_onnx), backend="auto", imgsz=(32, 32), cache_dir=str(tmp_path),
                           calibration=MediaFrames())
    try:
        assert engine.name in ("onnxruntime", "openvino")  # the CPU engine measured fastest here
    finally:
        engine.close()


def test_missing_model_file_is_reported_before_any_import(tmp_path, no_tensorrt):
    with pytest.raises(ModelError, match="not found"):
        TensorRTEngine(str(tmp_path / "missing.onnx"))
