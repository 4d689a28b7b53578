"""Issue 10 item 3, last part: the fused GPU pipeline paints segmentation masks on the device when a sink
renders, and the host draws only boxes and labels over that frame (the real kernels on the CPU emulator,
the default YOLOv5s-seg behind an ONNX Runtime stand-in for TensorRT: tests/fake_pycuda.py,
tests/trt/fake_engine.py; they test rtdetect's wiring and synchronisation, not a GPU).

"Equal" here: the rendered frame is exactly ``blend_masks_reference`` (the spec of the blend) of the
pipeline's own detections with the CPU renderer's palette and opacity, then the CPU renderer's boxes and
labels; against the CPU renderer painting the same detections it is the same on every pixel where that
renderer's mask blend and the reference agree (the renderer rounds half to even, the reference half up:
they differ by one level on a few percent of (pixel value, colour) pairs)."""
import cv2
import numpy as np
import pytest

from rtdetect.annotate import MASK_ALPHA, PALETTE_BGR, MaskAnnotator, Renderer
from rtdetect.gpu import blend_masks_reference
from rtdetect.gpu.runtime import grid_for
from rtdetect.postprocess import PostprocessConfig
from rtdetect.types import Detections

from fake_pycuda import FakeCudaDriver, QueuedRuntime

from .fake_engine import FakeEngine, OrtRunner

PERSON, BUS = 0, 5


@pytest.fixture(scope="module")
def runtime():
    import kernels_emulator as emulator

    library = emulator.KernelLibrary(emulator.build_library())
    return QueuedRuntime(emulator.EmulatedRuntime(library, block_threads=64, grid_blocks=4))


@pytest.fixture(scope="module")
def gpu(v5seg_onnx, runtime):
    from rtdetect.gpu.processor import GpuProcessor

    engine = FakeEngine(OrtRunner(v5seg_onnx, FakeCudaDriver()))
    with GpuProcessor(engine, PostprocessConfig(conf=0.25), use_graph=False, runtime=runtime,
                     log=lambda message: None) as pipeline:
        yield pipeline


class RenderedSink:
    """Keeps every (frame, detections, rendered image) it is given."""

    needs_render = True
    quit_requested = False

    def __init__(self):
        self.written = []

    def write(self, frame, detections, rendered):
        self.written.append((frame, detections, rendered))


def without_masks(detections):
    return Detections(detections.xyxy, detections.scores, detections.class_ids)


def reference_picture(image, detections, names):
    """The spec: the reference blend of the detections' masks, then the host's boxes and labels."""
    blended = blend_masks_reference(image, detections.masks.to_full(), detections.class_ids, PALETTE_BGR,
                                    MASK_ALPHA)
    return blended, Renderer(names).render(blended, without_masks(detections))


def crop_pixels(detections) -> int:
    return sum(crop.size for crop in detections.masks.crops)


def run(gpu, data_dir, sinks, frames=2):
    from rtdetect.capture import open_source
    from rtdetect.run import GpuModel, Runner

    with open_source(str(data_dir / "vtest_3s.mp4")) as source:
        return Runner(GpuModel(gpu)).run(source, sinks, max_frames=frames)


def test_rendered_runs_paint_the_masks_on_the_device(gpu, runtime, data_dir, monkeypatch):
    painted_on_host = []
    annotate = MaskAnnotator.annotate
    monkeypatch.setattr(MaskAnnotator, "annotate", lambda self, image, detections: (
        painted_on_host.append(len(detections)), annotate(self, image, detections))[1])
    runtime.launches.clear()
    sink = RenderedSink()
    assert run(gpu, data_dir, [sink]).frames == 2
    blends = [grid for kernel, grid in runtime.launches if kernel == "mask_blend"]
    assert len(blends) == 2 and painted_on_host == []  # the device painted, the host renderer did not
    for (frame, detections, rendered), grid in zip(sink.written, blends, strict=True):
        assert len(detections) > 3 and crop_pixels(detections) > 0
        assert grid == (grid_for(crop_pixels(detections), runtime), 1)  # the kept crops, not H x W x max_det
        blended, expected = reference_picture(frame.image, detections, gpu.names)
        np.testing.assert_array_equal(rendered, expected)
        cpu = Renderer(gpu.names).render(frame.image, detections)  # no painted frame given: painted on the host
        agree = (MaskAnnotator().annotate(frame.image.copy(), detections) == blended).all(axis=2)
        assert agree.mean() > 0.9 and (cpu == rendered).all(axis=2)[agree].all()
        assert np.abs(cpu.astype(int) - rendered).max() <= 1  # where they disagree: one level of rounding
    assert not gpu.paint_masks  # only for the run that rendered


def test_jsonl_only_runs_do_not_paint(gpu, runtime, data_dir, tmp_path):
    from rtdetect.sinks import JsonlSink

    runtime.launches.clear()
    sink = JsonlSink(str(tmp_path / "out.jsonl"), gpu.names)
    seen = []

    class Spy:
        needs_render = False
        quit_requested = False

        def write(self, frame, detections, rendered):
            seen.append((detections, rendered))

    try:
        assert run(gpu, data_dir, [sink, Spy()]).frames == 2
    finally:
        sink.close()
    assert "mask_blend" not in {kernel for kernel, _ in runtime.launches}
    assert all(rendered is None and len(d.masks) for d, rendered in seen)


def test_a_class_filter_paints_only_the_classes_kept(gpu, data_dir):
    image = cv2.imread(str(data_dir / "bus.jpg"))
    gpu.paint_masks = True
    try:
        everything, _, painted_everything = gpu.process_frame(image)
        gpu.configure(PostprocessConfig(conf=0.25, classes=(BUS,)))
        buses, _, painted_buses = gpu.process_frame(image)
    finally:
        gpu.paint_masks = False
        gpu.configure(PostprocessConfig(conf=0.25))
    assert {PERSON, BUS} <= set(everything.class_ids.tolist()) and set(buses.class_ids.tolist()) == {BUS}
    for detections, painted in ((everything, painted_everything), (buses, painted_buses)):
        blended, _ = reference_picture(image, detections, gpu.names)
        np.testing.assert_array_equal(painted, blended)
    assert (painted_buses != painted_everything).any()  # the people were not painted
