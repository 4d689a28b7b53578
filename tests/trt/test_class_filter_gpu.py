"""``classes`` on the GPU pipeline (the real kernels on the CPU emulator, the default YOLOv5s-seg model behind
an ONNX Runtime stand-in for TensorRT, tests/fake_pycuda.py, tests/trt/fake_engine.py): on frames with several classes the filtered
result is exactly the unfiltered one restricted to the requested classes, boxes and scores included."""
import cv2
import numpy as np
import pytest

from rtdetect.postprocess import PostprocessConfig

from fake_pycuda import FakeCudaDriver, QueuedRuntime

from .fake_engine import FakeEngine, OrtRunner

PERSON, BUS, TIE = 0, 5, 27
CASES = [("bus.jpg", (BUS,)), ("bus.jpg", (BUS, PERSON)), ("zidane.jpg", (TIE, BUS, PERSON))]


@pytest.fixture(scope="module")
def gpu_pipeline(v5seg_onnx):
    import kernels_emulator as emulator
    from rtdetect.gpu.processor import GpuProcessor

    runtime = QueuedRuntime(emulator.EmulatedRuntime(emulator.KernelLibrary(emulator.build_library()),
                                                     block_threads=64, grid_blocks=4))
    engine = FakeEngine(OrtRunner(v5seg_onnx, FakeCudaDriver()))
    with GpuProcessor(engine, PostprocessConfig(conf=0.25, masks=False), use_graph=False, runtime=runtime,
                     log=lambda message: None) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def unfiltered(gpu_pipeline, data_dir):
    images = {name: cv2.imread(str(data_dir / name)) for name in ("bus.jpg", "zidane.jpg")}
    return {name: (image, gpu_pipeline.process_frame(image)[0]) for name, image in images.items()}


@pytest.mark.parametrize("image, classes", CASES)
def test_gpu_filter_equals_unfiltered_restricted(gpu_pipeline, unfiltered, image, classes):
    frame, everything = unfiltered[image]
    assert len(set(everything.class_ids.tolist())) >= 2
    gpu_pipeline.configure(PostprocessConfig(conf=0.25, masks=False, classes=classes))
    try:
        filtered, _, _ = gpu_pipeline.process_frame(frame)
    finally:
        gpu_pipeline.configure(PostprocessConfig(conf=0.25, masks=False))
    keep = np.isin(everything.class_ids, classes)
    assert keep.any()
    np.testing.assert_array_equal(filtered.class_ids, everything.class_ids[keep])
    np.testing.assert_array_equal(filtered.xyxy, everything.xyxy[keep])
    np.testing.assert_array_equal(filtered.scores, everything.scores[keep])
