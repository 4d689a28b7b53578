import json
import threading

import cv2
import numpy as np
import pytest
import torch

from rtdetect.capture import open_source
from rtdetect.errors import ModelError
from rtdetect.inference import create_engine
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.annotate import Renderer
from rtdetect.sinks import JsonlSink, VideoSink
from rtdetect.types import Frame

from .helpers import decoded_frame_count


@pytest.fixture(scope="module")
def fall_engine(fall_detection_dir):
    engine = create_engine(str(fall_detection_dir / "best_fp16.onnx"), backend="onnxruntime")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def fall_pipeline(fall_engine):
    return CpuModel(fall_engine)


def run_into(pipeline, source, tmp_path, *, runner=None, **kwargs):
    with open_source(source) as src:
        sinks = [VideoSink(str(tmp_path / "out.mp4"), src.fps), JsonlSink(str(tmp_path / "out.jsonl"), pipeline.names)]
        try:
            summary = (runner or Runner(pipeline)).run(src, sinks, **kwargs)
        finally:
            for sink in sinks:
                sink.close()
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    return summary, lines


def test_threaded_run_matches_sequential_and_keeps_every_frame(fall_pipeline, data_dir, tmp_path):
    clip = str(data_dir / "vtest_3s.mp4")
    summary, lines = run_into(fall_pipeline, clip, tmp_path, max_frames=8)
    assert summary.frames == 8 == len(lines) == decoded_frame_count(tmp_path / "out.mp4")
    assert [l["frame"] for l in lines] == list(range(8))
    with open_source(clip) as src:
        for frame, line in zip(src, lines):
            det = fall_pipeline.process(frame).detections
            np.testing.assert_allclose([d["box"] for d in line["detections"]], det.xyxy.reshape(-1, 4), atol=0.01)
            assert [d["class_id"] for d in line["detections"]] == det.class_ids.tolist()
    # People walk through this scene: the detector must see them (class "Normal" = a standing person).
    assert sum(len(l["detections"]) for l in lines) >= 8
    stages = summary.stages.summary()
    assert set(stages) >= {"capture", "preprocess", "inference", "decode_nms", "render", "write"}


def test_interrupt_finalises_outputs(fall_pipeline, data_dir, tmp_path):
    def interrupt_after_three(item):
        if item.frame.index == 2:
            raise KeyboardInterrupt

    summary, lines = run_into(fall_pipeline, str(data_dir / "vtest_3s.mp4"), tmp_path, on_frame=interrupt_after_three)
    assert summary.interrupted and summary.frames == 3
    assert len(lines) == 3 and decoded_frame_count(tmp_path / "out.mp4") == 3


def test_stop_event_and_errors_in_a_stage(fall_engine, data_dir, tmp_path):
    pipeline = CpuModel(fall_engine)
    stop = threading.Event()
    stop.set()
    with open_source(str(data_dir / "bus.jpg")) as src:
        assert Runner(pipeline).run(src, [], stop=stop).frames == 0

    def broken(item):
        raise RuntimeError("stage failed")

    pipeline.finish = broken
    with open_source(str(data_dir / "vtest_3s.mp4")) as src, pytest.raises(RuntimeError, match="stage failed"):
        Runner(pipeline).run(src, [])


def test_class_filter_validated_and_applied(fall_pipeline, data_dir):
    with pytest.raises(ModelError, match="2 classes"):
        fall_pipeline.configure(PostprocessConfig(classes=(5,)))
    fall_pipeline.configure(PostprocessConfig(classes=(1,)))
    try:
        with open_source(str(data_dir / "bus.jpg")) as src:
            item = fall_pipeline.process(next(iter(src)))
        assert set(item.detections.class_ids.tolist()) <= {1}
    finally:
        fall_pipeline.configure(PostprocessConfig())


def test_not_a_detector(tmp_path):
    path = tmp_path / "classifier.onnx"
    classifier = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())  # (1, 3) output
    torch.onnx.export(classifier, torch.zeros(1, 3, 32, 32), str(path), dynamo=False)
    engine = create_engine(str(path), backend="onnxruntime")
    with pytest.raises(ModelError, match=r"\(1, 3\).*not a detector"):
        CpuModel(engine)


@pytest.mark.parametrize("hw", [(1, 1), (3000, 4000), (900, 300), (37, 53), (2160, 3840)])
def test_odd_frame_sizes_through_every_stage(fall_pipeline, data_dir, hw):
    image = cv2.resize(cv2.imread(str(data_dir / "bus.jpg")), (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    item = fall_pipeline.process(Frame(image, 0, None, "odd"))
    boxes = item.detections.xyxy
    assert np.all(boxes >= 0) and np.all(boxes[:, [0, 2]] <= hw[1]) and np.all(boxes[:, [1, 3]] <= hw[0])
    rendered = Renderer(fall_pipeline.names).render(image, item.detections, 10.0)
    assert rendered.shape == image.shape



class _Passthrough:
    """A user's own detection stage, named ``user_stage``: returns the detections it is given."""

    name = "user_stage"

    def __call__(self, frame, detections):
        return detections


def test_every_stage_is_timed_and_reported(fall_engine, data_dir, tmp_path):
    """The tracker's and a user's stage keep their timings through the run summary and into the bench's
    table (both were dropped: they are not among the built-in stage names)."""
    from rtdetect.bench.measure import EndToEnd, ModelOnly
    from rtdetect.bench.report import row_names
    from rtdetect.bench.runner import _summarise
    from rtdetect.metrics import STAGES
    from rtdetect.tracking.stage import TrackingStage

    pipeline = CpuModel(fall_engine)
    runner = Runner(pipeline, stages=[TrackingStage(pipeline.names), _Passthrough()])
    summary, _ = run_into(pipeline, str(data_dir / "vtest_3s.mp4"), tmp_path, runner=runner, max_frames=4)
    stages = summary.stages.summary()
    assert stages["track"].count == stages["user_stage"].count == 4
    # Stable order: the built-in stages in pipeline order, then the others as first seen.
    assert list(stages) == [s for s in STAGES if s in stages] + ["user_stage"]

    end_to_end = EndToEnd(frames=summary.frames, seconds=summary.seconds, stages=summary.stages)
    model_only = ModelOnly(frames=1, seconds=0.1, latencies=[0.1], cores_used=None)
    config = {"status": "ok", "stages_ms": _summarise([end_to_end], [model_only])["stages_ms"]}
    rows = row_names({"configs": [config]})
    assert {"track ms (mean / p50 / p95 / p99)", "user_stage ms (mean / p50 / p95 / p99)"} <= set(rows)
