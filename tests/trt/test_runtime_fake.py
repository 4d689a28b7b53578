"""rtdetect's TensorRT code paths (toolkit, engine runner, TensorRTEngine) run end to end on the CPU against
fake ``tensorrt`` and ``pycuda`` modules (tests/trt/fake_trt.py, tests/fake_pycuda.py). They check how rtdetect uses
the API (flags per version, profile, timing cache, buffers allocated once, tensor addresses set once, one
context push per call, cache reuse and rebuild), not what TensorRT does: that is tests/trt/test_gpu.py."""
import numpy as np
import pytest

from rtdetect.inference.tensorrt import TensorRTEngine
from rtdetect.inference.tensorrt.readiness import cuda_device_available
from rtdetect.inference.tensorrt.builder import BuildRequest, EngineBuilder
from rtdetect.inference.tensorrt.cache import write_engine
from rtdetect.inference.tensorrt.errors import EngineBuildError
from rtdetect.inference.tensorrt.toolkit import TensorRTToolkit
from rtdetect.trial_inputs import MediaFrames

from .fake_trt import OUTPUT_ANCHORS, OUTPUT_CHANNELS, FakeParser


def expected_output(batch_tensor):
    means = batch_tensor.reshape(len(batch_tensor), -1).mean(axis=1)
    return (means[:, None, None] * np.arange(1, OUTPUT_CHANNELS + 1)[None, :, None]
            + np.arange(OUTPUT_ANCHORS)[None, None, :]).astype(np.float32)


def calls_named(trt, name):
    return [c for c in trt.calls if c[0] == name]


def test_device_probe_sees_the_fake_gpu(cuda, install_trt, fake_nvcc):
    install_trt()
    assert cuda_device_available()


def test_dynamic_batch_engine_builds_loads_and_infers(cuda, install_trt, tiny_dynamic_onnx, tmp_path):
    trt = install_trt("10.13.3.9")
    rng = np.random.default_rng(0)
    with TensorRTEngine(str(tiny_dynamic_onnx), imgsz=(32, 32), precision="fp16", batch=4,
                        cache_dir=str(tmp_path)) as engine:
        assert calls_named(trt, "build") == [("build", ["FP16"], [])]
        assert calls_named(trt, "create_network") == [("create_network", 0)]  # weakly typed on 10.x
        assert (engine.input_hw, engine.input_dtype, engine.max_batch) == ((32, 32), np.float32, 4)
        assert engine.metadata["rtdetect.precision"] == "fp16" and engine.metadata["rtdetect.layout"] == "v8"
        allocations = len(cuda.allocations)
        for batch in (3, 1, 4, 3):
            tensor = rng.random((batch, 3, 32, 32), dtype=np.float32)
            (out,) = engine.infer(tensor)
            assert out.shape == (batch, OUTPUT_CHANNELS, OUTPUT_ANCHORS) and out.dtype == np.float32
            np.testing.assert_allclose(out, expected_output(tensor), rtol=1e-6)
        assert len(cuda.allocations) == allocations == 2  # input and output, once, at the largest shape
        assert [c[1] for c in calls_named(trt, "set_tensor_address")] == ["images", "output0"]
        assert cuda.context_depth == 0
        with pytest.raises(ValueError, match="outside the engine's profile"):
            engine.infer(np.zeros((5, 3, 32, 32), np.float32))
        with pytest.raises(ValueError, match="input must be"):
            engine.infer(np.zeros((1, 3, 16, 16), np.float32))
    assert all(a.freed for a in cuda.allocations) and cuda.context_depth == 0


def test_second_load_comes_from_the_cache_and_a_bad_plan_is_rebuilt(cuda, install_trt, tiny_onnx, tmp_path, capfd):
    trt = install_trt()
    options = dict(imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path))
    with TensorRTEngine(str(tiny_onnx), **options) as engine:
        path = engine.engine_path
    with TensorRTEngine(str(tiny_onnx), **options):
        pass
    assert len(calls_named(trt, "build")) == 1 and calls_named(trt, "build")[0][2] == ["TF32"]
    sidecar_metadata = {"rtdetect.names": '["a", "b"]'}
    with TensorRTToolkit() as toolkit:
        request = BuildRequest(tiny_onnx, "fp32", imgsz=(32, 32))
        paths = EngineBuilder(toolkit, cache_dir=tmp_path).resolve(request).paths
    assert paths.engine == path
    write_engine(paths, b"a plan from another TensorRT", sidecar_metadata)
    capfd.readouterr()
    with TensorRTEngine(str(tiny_onnx), **options) as engine:
        (out,) = engine.infer(np.ones((1, 3, 32, 32), np.float32))
    assert len(calls_named(trt, "build")) == 2 and out[0, 0, 0] == pytest.approx(1.0)
    assert "cannot be loaded" in capfd.readouterr().err


def test_trt11_builds_strongly_typed_from_the_fp16_onnx_without_precision_flags(cuda, install_trt, tiny_onnx, tmp_path):
    trt = install_trt("11.4.0.106")
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp16", cache_dir=str(tmp_path)):
        pass
    (parsed,) = calls_named(trt, "parse_from_file")
    assert "-fp16-" in parsed[1]
    assert calls_named(trt, "create_network") == [("create_network", 1 << 0)]  # STRONGLY_TYPED is 0 on 11.x
    assert calls_named(trt, "build") == [("build", [], [])]


def test_timing_cache_is_loaded_and_saved(cuda, install_trt, tiny_onnx, tmp_path):
    trt = install_trt()
    for precision in ("fp32", "fp16"):
        with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision=precision, cache_dir=str(tmp_path)):
            pass
    assert [c[1] for c in calls_named(trt, "set_timing_cache")] == [b"", b"+"]
    (cache_file,) = (tmp_path / "engines").glob("timing-*.cache")
    assert cache_file.read_bytes() == b"++" and "sm89" in cache_file.name


def test_parse_errors_are_build_errors(cuda, install_trt, tiny_onnx, tmp_path, monkeypatch):
    install_trt()

    def fail(self, path):
        self.num_errors, self.error = 1, "Unsupported operator FancyOp"
        return False
    monkeypatch.setattr(FakeParser, "parse_from_file", fail)
    with pytest.raises(EngineBuildError, match="FancyOp"):
        TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path))
    assert cuda.context_depth == 0


def test_prebuilt_engine_file_loads_with_its_sidecar_metadata(cuda, install_trt, tiny_onnx, tmp_path):
    install_trt()
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path)) as built:
        path = built.engine_path
    with TensorRTEngine(str(path)) as engine:
        assert engine.metadata["rtdetect.names"] == '["a", "b"]' and engine.input_hw == (32, 32)
        assert engine.infer(np.zeros((1, 3, 32, 32), np.float32))[0].shape == (1, OUTPUT_CHANNELS, OUTPUT_ANCHORS)


def test_int8_calibrates_then_builds_from_the_qdq_onnx(cuda, install_trt, tiny_onnx, tmp_path, data_dir):
    trt = install_trt("10.13.3.9")
    options = dict(imgsz=(32, 32), precision="int8", calibration=MediaFrames(str(data_dir)), calib_frames=8,
                   cache_dir=str(tmp_path))
    with TensorRTEngine(str(tiny_onnx), **options) as engine:
        assert engine.metadata["rtdetect.precision"] == "int8"
    (parsed,) = calls_named(trt, "parse_from_file")
    assert "-int8-" in parsed[1]
    assert calls_named(trt, "build") == [("build", ["FP16", "INT8"], [])]
    with TensorRTEngine(str(tiny_onnx), **options):  # same calibration set: cached, no second calibration
        pass
    assert len(calls_named(trt, "parse_from_file")) == 1


def test_an_execution_tensorrt_reports_failed_is_an_inference_error(cuda, install_trt, tiny_onnx, tmp_path,
                                                                     monkeypatch):
    """``execute_async_v3`` returning False is TensorRT's way to say the run failed: one InferenceError."""
    from rtdetect.errors import InferenceError

    from .fake_trt import FakeExecutionContext

    install_trt()
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path)) as engine:
        monkeypatch.setattr(FakeExecutionContext, "execute_async_v3", lambda self, stream_handle: False)
        with pytest.raises(InferenceError, match="^tensorrt could not run the model: TensorRT execute_async_v3 failed"):
            engine.infer(np.zeros((1, 3, 32, 32), np.float32))
