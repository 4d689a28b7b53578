"""TensorRT and the GPU pipeline on a real NVIDIA GPU. Skipped without one; on a GPU machine run

    RTDETECT_REQUIRE_CUDA=1 pytest -m needs_cuda

(the variable turns a missing GPU, tensorrt or pycuda into a failure instead of a skip). Engines are built
into a temporary cache, so the first tests take minutes (TensorRT builds); nvcc must be on PATH for the
GPU pipeline's kernels. Tolerances:

* fp32 engine vs ONNX Runtime, raw outputs: rtol 1e-3, atol 1e-3 (TF32 is off for fp32 builds);
* fp16 engine vs ONNX Runtime fp32: class scores atol 0.02; box coordinates (input pixels, 0..640) atol 2 px
  on anchors that score > 0.1;
* INT8 engine vs fp32: detection recall >= 0.85 (calibrated on the 34 frames of tests/data only);
* GPU pipeline vs CPU pipeline: matched scores within 0.01, box corners within 2 px (the letterbox kernel
  differs from cv2 by at most one grey level), unmatched detections only at the threshold.
"""
from __future__ import annotations

import numpy as np
import pytest

from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.inference.tensorrt import TensorRTEngine
from rtdetect.inference.tensorrt.readiness import cuda_device_available
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.preprocess import Preprocessor
from rtdetect.inference.tensorrt.builder import build_engine
from rtdetect.inference.tensorrt.cache import write_engine
from rtdetect.types import Frame
from rtdetect.trial_inputs import MediaFrames

from .helpers import match, pairs, unmatched_scores, video_frames

pytestmark = pytest.mark.needs_cuda("tensorrt")

FP32_RTOL = FP32_ATOL = 1e-3
FP16_SCORE_ATOL, FP16_BOX_ATOL_PX = 0.02, 2.0
INT8_MIN_RECALL = 0.85
E2E_SCORE_TOL, E2E_BOX_TOL_PX = 0.01, 2.0
CONFIG = PostprocessConfig(conf=0.25)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("trt-cache")


@pytest.fixture(scope="module")
def yolov8(fall_detection_dir):
    return fall_detection_dir / "best_fp16.onnx"  # float32 inside; (1, 6, 8400); 2 classes


@pytest.fixture(scope="module")
def clip(data_dir):
    return video_frames(data_dir / "vtest_3s.mp4")


@pytest.fixture(scope="module")
def tensors(clip):
    preprocess = Preprocessor((640, 640))
    return [preprocess(image)[0] for image in clip[::6]]


@pytest.fixture(scope="module")
def ort(yolov8):
    with OnnxRuntimeEngine(str(yolov8)) as engine:
        yield engine


@pytest.fixture(scope="module")
def fp32_engine(yolov8, cache_dir):
    with TensorRTEngine(str(yolov8), imgsz=(640, 640), precision="fp32", cache_dir=str(cache_dir)) as engine:
        yield engine


def assert_close_detections(reference, got):
    matched, deltas, box_error = match(reference, got, iou=0.5)
    assert matched >= len(reference) - 1
    assert np.abs(deltas).max(initial=0) < E2E_SCORE_TOL and box_error < E2E_BOX_TOL_PX
    for scores in unmatched_scores(reference, got, iou=0.5):
        assert np.all(scores < CONFIG.conf + E2E_SCORE_TOL), scores


def test_cuda_device_is_available():
    assert cuda_device_available()


def test_fp32_outputs_match_onnxruntime(fp32_engine, ort, tensors):
    assert fp32_engine.input_hw == (640, 640) and fp32_engine.input_dtype == np.float32
    assert fp32_engine.metadata["names"] == "{0: 'Normal', 1: 'Fall'}"
    for tensor in tensors:
        np.testing.assert_allclose(fp32_engine.infer(tensor)[0], ort.infer(tensor)[0], rtol=FP32_RTOL, atol=FP32_ATOL)


def test_fp16_outputs_within_documented_tolerance(yolov8, cache_dir, ort, tensors):
    with TensorRTEngine(str(yolov8), imgsz=(640, 640), precision="fp16", cache_dir=str(cache_dir)) as engine:
        assert engine.metadata["rtdetect.precision"] == "fp16"
        for tensor in tensors:
            got, want = engine.infer(tensor)[0][0], ort.infer(tensor)[0][0]
            np.testing.assert_allclose(got[4:], want[4:], atol=FP16_SCORE_ATOL)
            confident = want[4:].max(axis=0) > 0.1
            np.testing.assert_allclose(got[:4, confident], want[:4, confident], atol=FP16_BOX_ATOL_PX)


def test_int8_engine_keeps_detections_close_to_fp32(yolov8, cache_dir, clip, data_dir):
    with TensorRTEngine(str(yolov8), imgsz=(640, 640), precision="int8", calibration=MediaFrames(str(data_dir)),
                        calib_frames=34, cache_dir=str(cache_dir)) as int8, OnnxRuntimeEngine(str(yolov8)) as fp32:
        p8, p32 = CpuModel(int8, CONFIG), CpuModel(fp32, CONFIG)
        total = found = 0
        for i, image in enumerate(clip[1::3]):
            reference = p32.process(Frame(image, i, None, "t")).detections
            total += len(reference)
            found += len(pairs(reference, p8.process(Frame(image, i, None, "t")).detections))
    print(f"TensorRT INT8 vs fp32: recall {found / total:.3f} ({found}/{total})")
    assert found / total >= INT8_MIN_RECALL


@pytest.mark.parametrize("use_graph", [True, False])
def test_gpu_pipeline_matches_the_cpu_pipeline_on_the_clip(fp32_engine, ort, clip, use_graph):
    from rtdetect.gpu.processor import GpuProcessor

    cpu = CpuModel(ort, CONFIG)
    with GpuProcessor(fp32_engine, CONFIG, use_graph=use_graph) as gpu:
        results = list(gpu.process_stream(clip))
        single, seconds, _ = gpu.process_frame(clip[0])
    assert len(results) == len(clip)
    for i, (image, (detections, _, _)) in enumerate(zip(clip, results, strict=True)):
        assert_close_detections(cpu.process(Frame(image, i, None, "t")).detections, detections)
    assert_close_detections(results[0][0], single)
    expected = {"gpu_graph"} if use_graph else {"preprocess", "inference", "decode_nms"}
    assert expected | {"upload", "download"} <= set(seconds)
    assert all(s >= 0 for s in seconds.values())


def test_gpu_pipeline_masks_match_the_cpu_pipeline(cache_dir, clip):
    from rtdetect.models.zoo import resolve_model
    from rtdetect.gpu.processor import GpuProcessor

    model = str(resolve_model("yolov5s-seg", imgsz=(640, 640)))
    engine = TensorRTEngine(model, imgsz=(640, 640), precision="fp32", cache_dir=str(cache_dir))
    with OnnxRuntimeEngine(model) as ort_seg, GpuProcessor(engine, CONFIG, owns_engine=True) as gpu:
        cpu = CpuModel(ort_seg, CONFIG)
        for i, image in enumerate(clip[::10]):
            reference = cpu.process(Frame(image, i, None, "t")).detections
            got, seconds, _ = gpu.process_frame(image)
            assert_close_detections(reference, got)
            assert got.masks is not None and got.masks.frame_hw == image.shape[:2]
            for r, g in pairs(reference, got):
                want, mask = reference.masks.full(r), got.masks.full(g)
                inter, union = np.logical_and(want, mask).sum(), np.logical_or(want, mask).sum()
                assert union == 0 or inter / union > 0.9
        assert "gpu_graph" in seconds


def test_engine_cache_is_reused_and_a_bad_engine_is_rebuilt(yolov8, tmp_path, capfd, tensors):
    cache = tmp_path / "cache"
    first = build_engine(yolov8, precision="fp32", imgsz=(640, 640), cache_dir=cache)
    second = build_engine(yolov8, precision="fp32", imgsz=(640, 640), cache_dir=cache)
    assert first.built and not second.built and first.engine == second.engine
    assert list((cache / "engines").glob("timing-*.cache"))
    capfd.readouterr()
    with TensorRTEngine(str(yolov8), precision="fp32", cache_dir=str(cache)) as engine:
        expected = engine.infer(tensors[0])
    assert "building" not in capfd.readouterr().err
    write_engine(second, b"not a TensorRT plan", {"names": "{0: 'Normal', 1: 'Fall'}"})  # consistent sidecar
    with TensorRTEngine(str(yolov8), precision="fp32", cache_dir=str(cache)) as engine:
        np.testing.assert_allclose(engine.infer(tensors[0])[0], expected[0], rtol=FP32_RTOL, atol=FP32_ATOL)
    err = capfd.readouterr().err
    assert "cannot be loaded" in err and "building" in err


def test_dynamic_batch(fall_detection_dir, tmp_path, cache_dir, tensors):
    from rtdetect.models.zoo import export_model

    dynamic = export_model(str(fall_detection_dir / "best.pt"), tmp_path / "dynamic.onnx", dynamic=True)
    options = dict(imgsz=(640, 640), precision="fp32", batch=4, cache_dir=str(cache_dir))
    with TensorRTEngine(str(dynamic), **options) as engine, OnnxRuntimeEngine(str(dynamic)) as ort_dynamic:
        assert engine.max_batch == 4
        for batch in (3, 1, 4):
            stacked = np.concatenate([tensors[i % len(tensors)] for i in range(batch)])
            got, want = engine.infer(stacked), ort_dynamic.infer(stacked)
            assert got[0].shape[0] == batch
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(g, w, rtol=FP32_RTOL, atol=FP32_ATOL)
        with pytest.raises(ValueError, match="outside the engine's profile"):
            engine.infer(np.concatenate([tensors[0]] * 5))
