"""The zero-copy GPU pipeline's wiring, on the CPU: rtdetect's real CUDA kernels under the kernel emulator,
a fake pycuda and an ONNX Runtime stand-in for the TensorRT engine (tests/fake_pycuda.py, tests/trt/fake_engine.py: they test
rtdetect's orchestration only, not TensorRT or a GPU). The needs_cuda tests run the real thing."""
import kernels_emulator as emulator
import numpy as np
import pytest

from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.types import Frame

from fake_pycuda import FakeCudaDriver, QueuedRuntime, device_view

from .fake_engine import FakeEngine, OrtRunner
from .helpers import match, pairs, unmatched_scores, video_frames


@pytest.fixture(scope="module")
def emulated_runtime():
    library = emulator.KernelLibrary(emulator.build_library())
    return QueuedRuntime(emulator.EmulatedRuntime(library, block_threads=64, grid_blocks=4))


@pytest.fixture(scope="module")
def yolov8(fall_detection_dir):
    return fall_detection_dir / "best_fp16.onnx"


@pytest.fixture(scope="module")
def cpu_pipeline(yolov8):
    with OnnxRuntimeEngine(str(yolov8)) as engine:
        yield CpuModel(engine, PostprocessConfig(conf=0.25), warmup_runs=1)


@pytest.fixture(scope="module")
def fake_engine(yolov8):
    return FakeEngine(OrtRunner(yolov8, FakeCudaDriver()))


@pytest.fixture
def gpu_pipeline(fake_engine, emulated_runtime):
    from rtdetect.gpu.processor import GpuProcessor

    engine = fake_engine
    pipeline = GpuProcessor(engine, PostprocessConfig(conf=0.25), use_graph=False, runtime=emulated_runtime,
                           log=lambda message: None)
    yield pipeline
    pipeline.close()


# The letterbox kernel blends in float32 where cv2 uses 11-bit fixed point (inputs differ by <= 1 grey
# level), so the network sees a slightly different image: scores move by ~3e-3, box corners by ~1 px.
SCORE_TOL, BOX_TOL_PX = 0.01, 2.0


def assert_same_detections(reference, got, conf=0.25):
    """Matched detections agree within the tolerances; any left unmatched sat at the threshold."""
    matched, deltas, box_error = match(reference, got, iou=0.9)
    assert matched >= len(reference) - 1 and len(reference) > 0
    assert np.abs(deltas).max(initial=0) < SCORE_TOL and box_error < BOX_TOL_PX
    for scores in unmatched_scores(reference, got, iou=0.9):
        assert np.all(scores < conf + SCORE_TOL), scores


def test_frames_go_through_the_engine_buffers_and_match_the_cpu_pipeline(gpu_pipeline, cpu_pipeline, data_dir):
    frames = video_frames(data_dir / "vtest_3s.mp4")[::15]
    before = gpu_pipeline.runner.enqueues
    for i, image in enumerate(frames):
        detections, seconds, _ = gpu_pipeline.process_frame(image)
        assert_same_detections(cpu_pipeline.process(Frame(image, i, None, "t")).detections, detections)
        assert {"upload", "preprocess", "inference", "decode_nms", "download"} <= set(seconds)
    assert gpu_pipeline.names == ["Normal", "Fall"]
    runner = gpu_pipeline.runner
    assert runner.enqueues == before + len(frames)  # one engine run per frame
    tensor = device_view(runner.device["images"], (1, 3, 640, 640), np.float32)
    assert np.allclose(tensor[0, :, 0, 0], 114 / 255, atol=1 / 255)  # the kernel wrote the engine's own input


def test_stream_order_double_buffering_and_class_filter(gpu_pipeline, cpu_pipeline, data_dir):
    frames = video_frames(data_dir / "vtest_3s.mp4")[:2]
    expected = [cpu_pipeline.process(Frame(f, i, None, "t")).detections for i, f in enumerate(frames)]
    results = list(gpu_pipeline.process_stream(frames))
    assert len(results) == 2
    for reference, (got, _, _) in zip(expected, results, strict=True):
        assert_same_detections(reference, got)
    assert not any(slot.busy for slot in gpu_pipeline._slots)
    gpu_pipeline.configure(PostprocessConfig(conf=0.25, classes=(1,)))
    filtered, _, _ = gpu_pipeline.process_frame(frames[0])
    assert len(filtered) == int((expected[0].class_ids == 1).sum())


def test_a_frame_that_outgrows_the_nms_bitmask_runs_again(fake_engine, emulated_runtime, data_dir, monkeypatch):
    """Issue 28: the NMS bitmask holds the tiles the candidates that passed need and grows when a frame needs
    more; that frame runs again, also in a stream where the next frame was launched before it was collected.
    Started at one tile, the results equal those of a bitmask large enough from the start."""
    from rtdetect.gpu import nms as gpu_nms
    from rtdetect.gpu.processor import GpuProcessor

    frames = video_frames(data_dir / "vtest_3s.mp4")[:3]
    config = PostprocessConfig(conf=0.001)  # thousands of candidates per frame
    results = {}
    for initial in (64, 8400):  # one tile; every tile 8400 candidates can need
        monkeypatch.setattr(gpu_nms, "INITIAL_MASK_CANDIDATES", initial)
        with GpuProcessor(fake_engine, config, use_graph=False, runtime=emulated_runtime,
                          log=lambda message: None) as gpu:
            results[initial] = [detections for detections, _, _ in gpu.process_stream(frames)]
            grown = gpu._nms.tile_capacity
        if initial == 64:
            assert grown > 1
    for small, large in zip(results[64], results[8400], strict=True):
        assert len(large) > 0
        np.testing.assert_array_equal(small.xyxy, large.xyxy)
        np.testing.assert_array_equal(small.scores, large.scores)
        np.testing.assert_array_equal(small.class_ids, large.class_ids)


def test_a_third_frame_needs_a_collected_slot(gpu_pipeline, data_dir):
    image = video_frames(data_dir / "vtest_3s.mp4")[0]
    first, second = gpu_pipeline._stage(image), gpu_pipeline._stage(image)
    with pytest.raises(RuntimeError, match="collect a result first"):
        gpu_pipeline._stage(image)
    for slot in (first, second):
        gpu_pipeline._collect(gpu_pipeline._launch(slot))


def test_bad_frames_are_refused(gpu_pipeline):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        gpu_pipeline.process_frame(np.zeros((10, 10), np.uint8))


def test_gpu_pipeline_on_the_real_engine_runner(cuda, install_trt, tiny_onnx, tmp_path, emulated_runtime, data_dir):
    """TensorRTEngine and its EngineRunner (on the fake tensorrt and pycuda) under the GPU pipeline: the
    device path (kernel letterbox into the runner's input buffer, decode/NMS on its output buffer) agrees
    with the host path (CpuModel: CPU letterbox, ``infer``, CPU decode/NMS) on the same engine. The fake
    engine's boxes overlap and spill over the frame: both paths run NMS before clipping (issue 28; the GPU
    path used to clip first, and this test had to neutralise NMS with iou=1)."""
    from rtdetect.inference.tensorrt import TensorRTEngine
    from rtdetect.gpu.processor import GpuProcessor

    install_trt()
    image = video_frames(data_dir / "vtest_3s.mp4")[0]
    config = PostprocessConfig(conf=0.25, iou=0.45)
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path)) as engine:
        host = CpuModel(engine, config, warmup_runs=1).process(Frame(image, 0, None, "t")).detections
        with GpuProcessor(engine, config, use_graph=False, runtime=emulated_runtime, log=lambda m: None) as gpu:
            device, seconds, _ = gpu.process_frame(image)
            assert gpu.names == ["a", "b"]
    assert len(host) == len(device) > 0
    # Issue 28 item 4: the engine's stream and the upload stream are non-blocking (CU_STREAM_NON_BLOCKING):
    # the legacy default stream would serialise them with any other CUDA user's work and break capture.
    assert [stream.flags for stream in cuda.streams.values()] == [1] * len(cuda.streams) and len(cuda.streams) >= 2
    np.testing.assert_array_equal(host.class_ids, device.class_ids)
    np.testing.assert_allclose(device.scores, host.scores, atol=SCORE_TOL)
    np.testing.assert_allclose(device.xyxy, host.xyxy, atol=BOX_TOL_PX)
    assert {"upload", "preprocess", "inference", "decode_nms", "download"} <= set(seconds)
    assert cuda.context_depth == 0


def test_one_context_push_per_frame(cuda, install_trt, tiny_onnx, tmp_path, emulated_runtime, data_dir):
    """Issue 28 item 4: each stage step pushed and popped the context on its own (stage, launch, collect, the
    engine's enqueue, ...); a frame now costs one push/pop pair, by process_frame and by process_stream."""
    from rtdetect.inference.tensorrt import TensorRTEngine
    from rtdetect.gpu.processor import GpuProcessor

    install_trt()
    frames = video_frames(data_dir / "vtest_3s.mp4")[:4]
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path)) as engine:
        with GpuProcessor(engine, PostprocessConfig(), use_graph=False, runtime=emulated_runtime,
                          log=lambda m: None) as gpu:
            gpu.process_frame(frames[0])  # the first frame allocates its upload slot
            before = cuda.pushes
            for image in frames[1:]:
                gpu.process_frame(image)
            assert cuda.pushes - before == len(frames) - 1
            before = cuda.pushes
            assert len(list(gpu.process_stream(frames))) == len(frames)
            assert cuda.pushes - before == len(frames) + 1  # one per frame, and one for the last collect
    assert cuda.context_depth == 0


def test_the_pipeline_captured_as_a_cuda_graph_gives_the_eager_results(cuda, install_trt, tiny_onnx, tmp_path,
                                                                        emulated_runtime, data_dir):
    """Issue 28 item 5: the fake libcuda captures streams into graphs that replay the recorded work (it had no
    graph calls, so capture never ran in a pipeline test). Captured once per slot and frame size, replayed
    for every later frame, the fused pipeline's detections equal the eager run's."""
    from rtdetect.inference.tensorrt import TensorRTEngine
    from rtdetect.gpu.processor import GpuProcessor

    install_trt()
    frames = video_frames(data_dir / "vtest_3s.mp4")[:6]
    logged, results = [], {}
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path)) as engine:
        for use_graph in (False, True):
            with GpuProcessor(engine, PostprocessConfig(conf=0.25, iou=0.45), use_graph=use_graph,
                              runtime=emulated_runtime, log=logged.append) as gpu:
                results[use_graph] = [(d, seconds) for d, seconds, _ in gpu.process_stream(frames)]
    assert logged == [] and cuda.graph_launches == len(frames)  # every frame replayed (first: right after capture)
    assert all("gpu_graph" in seconds for _, seconds in results[True])
    assert all(not stream.capture for stream in cuda.streams.values())
    first = results[False][0][0]  # the frames' detections differ, so a replay of stale work would show
    assert any(not np.array_equal(d.scores, first.scores) for d, _ in results[False][1:])
    for (eager, _), (graphed, _) in zip(results[False], results[True], strict=True):
        assert len(eager) > 0
        np.testing.assert_array_equal(graphed.xyxy, eager.xyxy)
        np.testing.assert_array_equal(graphed.scores, eager.scores)
        np.testing.assert_array_equal(graphed.class_ids, eager.class_ids)


def test_segmentation_masks_come_back_for_the_kept_boxes_only(emulated_runtime, data_dir):
    """The default YOLOv5s-seg model: mask kernels read the engine's protos buffer in place, and only the
    kept detections' masks are downloaded (the second host wait of a segmentation frame)."""
    from rtdetect.models.zoo import resolve_model
    from rtdetect.gpu.processor import GpuProcessor

    model = str(resolve_model("yolov5s-seg", imgsz=(640, 640)))
    frames = video_frames(data_dir / "vtest_3s.mp4")[:2]
    config = PostprocessConfig(conf=0.25)
    with OnnxRuntimeEngine(model) as engine:
        cpu = CpuModel(engine, config, warmup_runs=1)
        expected = [cpu.process(Frame(f, i, None, "t")).detections for i, f in enumerate(frames)]
    engine = FakeEngine(OrtRunner(model, FakeCudaDriver()))
    with GpuProcessor(engine, config, use_graph=False, runtime=emulated_runtime, log=lambda m: None) as gpu:
        results = list(gpu.process_stream(frames))
    for reference, (got, seconds, _) in zip(expected, results, strict=True):
        assert_same_detections(reference, got)
        assert got.masks is not None and len(got.masks) == len(got) and got.masks.frame_hw == (576, 768)
        assert "masks" in seconds
        for i, j in pairs(reference, got, iou=0.9):
            want, mask = reference.masks.full(i), got.masks.full(j)
            assert np.logical_and(want, mask).sum() / max(np.logical_or(want, mask).sum(), 1) > 0.98


def test_threaded_run_loop_drives_the_fused_gpu_stage(gpu_pipeline, cpu_pipeline, data_dir, tmp_path):
    """The runner (capture thread, fused GPU stage, sinks) around the GPU processor as a model."""
    from rtdetect.capture import open_source
    from rtdetect.run import GpuModel, Runner
    from rtdetect.sinks import JsonlSink

    pipeline = GpuModel(gpu_pipeline)
    sink = JsonlSink(str(tmp_path / "gpu.jsonl"), pipeline.names)
    with open_source(str(data_dir / "vtest_3s.mp4")) as source:
        try:
            summary = Runner(pipeline).run(source, [sink], max_frames=3)
        finally:
            sink.close()
    assert summary.frames == 3 and len((tmp_path / "gpu.jsonl").read_text().splitlines()) == 3
    assert {"upload", "download"} <= set(summary.stages.summary())
    frames = video_frames(data_dir / "vtest_3s.mp4")[:1]
    assert_same_detections(cpu_pipeline.process(Frame(frames[0], 0, None, "t")).detections,
                           pipeline.process(Frame(frames[0], 0, None, "t")).detections)
    assert pipeline.engine is gpu_pipeline.engine  # what ran, as a CPU model tells it (rtdetect val reports it)


def test_graphs_unavailable_fall_back_to_eager_with_one_message(fake_engine, emulated_runtime, data_dir,
                                                                 monkeypatch):
    """Without a loadable libcuda (pycuda itself has no graph API) the default pipeline runs eagerly."""
    from rtdetect.gpu import libcuda
    from rtdetect.gpu.processor import GpuProcessor

    def no_libcuda():
        raise OSError("libcuda.so.1: cannot open shared object file")

    monkeypatch.setattr(libcuda, "load", no_libcuda)
    messages = []
    frames = video_frames(data_dir / "vtest_3s.mp4")[:2]
    with GpuProcessor(fake_engine, PostprocessConfig(conf=0.25), runtime=emulated_runtime,
                     log=messages.append) as gpu:
        results = [gpu.process_frame(image) for image in frames]
    assert len(messages) == 1 and "libcuda" in messages[0]
    assert "gpu_eager" in results[0][1] and "preprocess" in results[1][1]  # then per-stage timings


def test_file_runs_drive_the_streaming_form(gpu_pipeline, data_dir, monkeypatch):
    """Issue 10 item 7: on a file the run loop uses ``process_stream``, so frame k + 1 is staged (uploaded
    on the copy stream) before frame k's results are collected; ``process_frame`` would alternate."""
    from rtdetect.capture import open_source
    from rtdetect.run import GpuModel, Runner

    order = []
    stage, collect = gpu_pipeline._stage, gpu_pipeline._collect
    monkeypatch.setattr(gpu_pipeline, "_stage", lambda image: (order.append("stage"), stage(image))[1])
    monkeypatch.setattr(gpu_pipeline, "_collect", lambda slot: (order.append("collect"), collect(slot))[1])
    seen = []

    class DetectionSpy:  # a detection stage after the fused one (as the tracker is) runs item by item
        name = "spy"

        def __call__(self, frame, detections):
            seen.append((frame.index, len(detections)))
            return detections

    pipeline = GpuModel(gpu_pipeline)
    with open_source(str(data_dir / "vtest_3s.mp4")) as source:
        summary = Runner(pipeline, stages=[DetectionSpy()]).run(source, [], max_frames=3)
    assert summary.frames == 3
    assert order == ["stage", "stage", "collect", "stage", "collect", "collect"]
    assert [index for index, _ in seen] == [0, 1, 2] and all(count > 0 for _, count in seen)


def test_bench_tensorrt_measures_the_fused_gpu_pipeline(cuda, install_trt, fake_nvcc, tiny_onnx, tmp_path,
                                                        data_dir, emulated_runtime, monkeypatch):
    """Issue 10 item 8: `rtdetect bench --backend tensorrt` measures what `rtdetect --backend tensorrt`
    runs, the fused GPU pipeline, with its CUDA-event stage times (kernels on the emulator here)."""
    from rtdetect.bench import run_bench
    from rtdetect.gpu import cuda_runtime

    install_trt()
    monkeypatch.setattr(cuda_runtime, "CudaRuntime", lambda **options: emulated_runtime)
    monkeypatch.setenv("RTDETECT_CACHE", str(tmp_path / "cache"))
    report = run_bench(source=str(data_dir / "vtest_3s.mp4"), model=str(tiny_onnx), backends=("tensorrt",),
                       precisions=("fp32",), imgsz=(32, 32), frames=3, warmup=1, sink="none")
    (record,) = report["configs"]
    assert record["status"] == "ok", record.get("reason")
    assert {"upload", "download"} <= set(record["stages_ms"])  # the CPU pipeline has neither
    assert record["gpu"].startswith("GPU stage times from CUDA events")
    assert record["end_to_end"]["frames_runs"] == [3] and record["layout"] == "v8"
    assert cuda.context_depth == 0


def test_candidate_list_holds_every_row_of_the_model_output(fake_engine, emulated_runtime, data_dir):
    """Issue 10 item 2: the GPU candidate list is as long as the model's output (this YOLOv8: 8400 rows,
    above the old fixed 8192), so every passing row reaches NMS and nothing is reported dropped; a smaller
    list set on purpose still counts and reports what it dropped."""
    from rtdetect.gpu.processor import GpuProcessor

    image = video_frames(data_dir / "vtest_3s.mp4")[0]
    messages = []
    with GpuProcessor(fake_engine, PostprocessConfig(conf=0.0), use_graph=False, runtime=emulated_runtime,
                     log=messages.append) as gpu:
        assert gpu.capacity == 8400 == fake_engine.runner.output_shapes["output0"][2]
        slot = gpu._launch(gpu._stage(image))
        gpu._collect(slot)
        passed = int(slot.results["candidates"][0])
    assert 1000 < passed <= 8400 and messages == []
    with GpuProcessor(fake_engine, PostprocessConfig(conf=0.0), use_graph=False, runtime=emulated_runtime,
                     capacity=1000, log=messages.append) as small:
        small.process_frame(image)
    assert len(messages) == 1 and f"{passed} candidates passed" in messages[0] and "holds 1000" in messages[0]


def test_settings_changed_from_another_thread_apply_between_frames(gpu_pipeline, data_dir, monkeypatch):
    """Issue 25: the live view changes settings from its server thread while the fused GPU stage runs a
    file in the streaming form (frame k + 1 staged while k computes). 100 changes of ``conf`` and the class
    filter during a run: it completes, and each frame's detections follow the settings in force when that
    frame was staged. (Applied at once, the change recreated the slots under the frame in flight.)"""
    from rtdetect.capture import open_source
    from rtdetect.run import GpuModel, Runner

    settings = [PostprocessConfig(conf=0.25), PostprocessConfig(conf=0.6), PostprocessConfig(conf=0.25, classes=(1,)),
                PostprocessConfig(conf=0.3, classes=(0,))]
    staged_under = []  # per frame, in order: the settings in force when it was staged
    stage = gpu_pipeline._stage
    monkeypatch.setattr(gpu_pipeline, "_stage", lambda image: (staged_under.append(gpu_pipeline.config), stage(image))[1])
    changes = iter(range(100))
    results = []

    class ChangeSettings:  # runs in the consuming thread, after the GPU stage's thread: another thread
        name = "change_settings"

        def __call__(self, frame, detections):
            results.append(detections)
            for change in [next(changes, None) for _ in range(4)]:  # 4 requests a frame; the last one wins
                if change is not None:
                    pipeline.configure(settings[(change // 4 + change % 2) % len(settings)])
            return detections

    pipeline = GpuModel(gpu_pipeline)
    with open_source(str(data_dir / "vtest_3s.mp4")) as source:
        summary = Runner(pipeline, stages=[ChangeSettings()]).run(source, [], max_frames=26)
    assert summary.frames == len(results) == 26 and next(changes, None) is None  # all 100 changes made
    assert len({(config.conf, config.classes) for config in staged_under}) == len(settings)
    for config, detections in zip(staged_under, results):
        assert np.all(detections.scores > config.conf), (config, detections.scores)
        if config.classes is not None:
            assert set(detections.class_ids.tolist()) <= set(config.classes)
    low = [d for c, d in zip(staged_under, results) if c.conf == 0.25 and c.classes is None]
    assert any(np.any(d.scores < 0.6) for d in low)  # the low threshold really kept weaker detections
