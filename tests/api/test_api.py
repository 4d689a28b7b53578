"""The public Python API against the command line: the same frame gives the same detections, a stream gives
the same lines as ``--json``, and closing a Detector frees its engine."""
import gc
import json
import subprocess
import sys
import threading
import weakref

import cv2
import numpy as np
import pytest

import rtdetect
from rtdetect.sinks.jsonl import frame_record
from rtdetect.types import BoxMasks, Detections
from tests.pipeline.cli_helpers import run_cli

CPU = "onnxruntime"  # one engine for both sides: --backend auto may measure and pick another


def _cli_lines(tmp_path, *args) -> list[dict]:
    out = tmp_path / "cli.jsonl"
    result = run_cli(*args, "--backend", CPU, "--json", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_import_has_no_side_effects():
    code = "import sys, rtdetect; assert not [m for m in sys.modules if m.startswith(('numpy', 'cv2', 'rtdetect.'))]"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_frame_gives_the_cli_detections(small_detector, data_dir, tmp_path):
    [line] = _cli_lines(tmp_path, "--source", data_dir / "person.jpg", "--model", small_detector, "--conf", "0.1")
    with rtdetect.Detector(str(small_detector), backend=CPU, conf=0.1) as detector:
        detections = detector(cv2.imread(str(data_dir / "person.jpg")))
        assert len(detections) > 0
        assert rtdetect.to_record(detections, detector.names)["detections"] == line["detections"]


def test_stream_gives_the_lines_of_a_cli_run(v5seg_onnx, data_dir, tmp_path):
    """The default model (masks included) over the first 20 frames of a real clip, tracked."""
    clip = data_dir / "vtest_3s.mp4"
    lines = _cli_lines(tmp_path, "--source", clip, "--model", v5seg_onnx, "--track", "--max-frames", "20")
    with rtdetect.Detector(str(v5seg_onnx), backend=CPU) as detector:
        records = [frame_record(frame, detections, detector.names)
                   for frame, detections in detector.stream(str(clip), track=True, max_frames=20)]
        untracked = next(iter(detector.stream(str(clip), max_frames=1)))[1]
    assert records == lines and sum(len(r["detections"]) for r in records) > 0
    assert all("track_id" in d and "mask" in d for r in records for d in r["detections"])
    assert untracked.track_ids is None  # the tracker belonged to the first stream only


def test_leaving_a_stream_early_stops_it(small_detector, data_dir):
    with rtdetect.Detector(str(small_detector), backend=CPU) as detector:
        stream = detector.stream(str(data_dir / "vtest_3s.mp4"))
        frames = [next(stream)[0].index for _ in range(3)]
        stream.close()
        assert not [t.name for t in threading.enumerate() if t.name.startswith("rtdetect:")]
    assert frames == [0, 1, 2]


def test_context_manager_releases_the_engine(small_detector, data_dir):
    image = cv2.imread(str(data_dir / "bus.jpg"))
    with rtdetect.Detector(str(small_detector), backend=CPU) as detector:
        detector(image)
        session = weakref.ref(detector.model_for(image.shape[:2]).engine._session)
        assert detector.is_open and session() is not None
    gc.collect()
    assert not detector.is_open and session() is None


def test_bad_values_are_refused_before_any_model_work():
    from rtdetect.errors import UsageError

    with pytest.raises(UsageError, match=r"^conf must be"):
        rtdetect.Detector("no-such-model", conf=1.5)
    with pytest.raises(UsageError, match="--imgsz"):
        rtdetect.Detector("no-such-model", imgsz=33)


def _masked_detections() -> Detections:
    crops = (np.array([[1, 1, 0], [0, 1, 1]], bool), np.ones((4, 2), bool))
    masks = BoxMasks(crops, np.array([[2, 3], [10, 0]]), (12, 16))
    return Detections(np.array([[2, 3, 5, 5], [10, 0, 12, 4]], np.float32), np.array([0.9, 0.5], np.float32),
                      np.array([0, 1], np.int32), masks, np.array([7, 8]))


def test_record_round_trips_through_json():
    detections = _masked_detections()
    record = json.loads(json.dumps(rtdetect.to_record(detections, ["person", "car"])))
    assert [d["label"] for d in record["detections"]] == ["person", "car"]
    back = rtdetect.from_record(record)
    np.testing.assert_array_equal(back.xyxy, detections.xyxy)
    np.testing.assert_array_equal(back.track_ids, detections.track_ids)
    np.testing.assert_array_equal(back.masks.to_full(), detections.masks.to_full())
    with pytest.raises(ValueError, match="not a detections record"):
        rtdetect.from_record({"detections": [{"box": [0, 0, 1, 1]}]})


def test_to_supervision():
    sv = pytest.importorskip("supervision")
    converted = _masked_detections().to_supervision(["person", "car"])
    assert isinstance(converted, sv.Detections) and len(converted) == 2
    np.testing.assert_array_equal(converted.mask, _masked_detections().masks.to_full())
    assert converted.tracker_id.tolist() == [7, 8] and list(converted.data["class_name"]) == ["person", "car"]
    # supervision's own annotators take it as is
    canvas = sv.BoxAnnotator().annotate(np.zeros((12, 16, 3), np.uint8), converted)
    assert canvas.any()


def test_render_draws_the_detections(small_detector, data_dir):
    image = cv2.imread(str(data_dir / "person.jpg"))
    with rtdetect.Detector(str(small_detector), backend=CPU, conf=0.1) as detector:
        detections = detector(image)
        names = detector.names
    drawn = rtdetect.render(image, detections, names)
    assert drawn.shape == image.shape and (drawn != image).any()
    assert (rtdetect.render(image, detections[:0], names) == image).all()


def test_configure_changes_threshold_and_classes_and_refuses_bad_values(small_detector, data_dir):
    from rtdetect.errors import ModelError, UsageError

    image = cv2.imread(str(data_dir / "person.jpg"))
    with rtdetect.Detector(str(small_detector), backend=CPU, conf=0.05) as detector:
        low = detector(image)
        assert len(low) > 0 and low.scores.min() < 0.5
        detector.configure(conf=0.5)
        assert (detector(image).scores > 0.5).all()
        detector.configure(conf=0.05, classes=["Fall"])
        assert set(detector(image).class_ids.tolist()) <= {1}
        with pytest.raises(ModelError, match="boat"):
            detector.configure(classes=["boat"])
        with pytest.raises(UsageError, match=r"^conf must be"):
            detector.configure(conf=2.0)
        assert detector.config.conf == 0.05 and detector.classes == ("Fall",)  # unchanged by the refusals
        detector.configure(classes=None)
        assert len(detector(image)) == len(low)


def test_every_sink_plays_the_sink_role(tmp_path):
    """The Sink protocol is code: each of rtdetect's own sinks declares what the run loop reads of it."""
    from rtdetect.bench.sinks import DiscardSink
    from rtdetect.sinks import ImageSink, JsonlSink, Sink, VideoSink

    sinks = [JsonlSink(str(tmp_path / "a.jsonl"), ["person"]), VideoSink(str(tmp_path / "a.mp4"), 30.0),
             ImageSink(str(tmp_path / "images"), folder=True), DiscardSink(needs_render=True)]
    try:
        for sink in sinks:
            assert isinstance(sink, Sink), type(sink).__name__
            assert sink.quit_requested is False and isinstance(sink.needs_render, bool)
    finally:
        for sink in sinks:
            sink.close()


def test_the_api_takes_what_users_pass(small_detector, data_dir):
    """Issue 27 item 5: a PIL image was read as BGR (lower scores), a path failed with a shape error, a list
    failed although the engine batches, names raised until the first frame, errors named CLI flags, and a
    call after close() silently reopened the engine."""
    from PIL import Image

    from rtdetect.errors import UsageError

    bgr = cv2.imread(str(data_dir / "person.jpg"))
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    with rtdetect.Detector(str(small_detector), backend=CPU, conf=0.1) as detector:
        assert detector.names == ["Normal", "Fall"]  # before any frame
        reference = detector(bgr)
        assert len(reference) > 0
        for same in (detector(Image.fromarray(rgb)), detector(str(data_dir / "person.jpg")),
                     detector(data_dir / "person.jpg")):
            np.testing.assert_allclose(same.xyxy, reference.xyxy, atol=1e-3)
            np.testing.assert_allclose(same.scores, reference.scores, atol=1e-5)
        bus = cv2.imread(str(data_dir / "bus.jpg"))
        many = detector([bgr, bus, Image.fromarray(rgb)])
        assert len(many) == 3 and [len(d) for d in many] == [len(reference), len(detector(bus)), len(reference)]
        assert len(detector(picture for picture in (bgr, bus))) == 2
        with pytest.raises(UsageError, match=r"^image: expected a NumPy array"):
            detector(42)
        with pytest.raises(UsageError, match=r"image\[1\]: unsupported picture shape"):
            detector([bgr, np.zeros((4, 4, 5), np.uint8)])
        streamed = [d for _, d in detector.stream([bgr, bus])]
        np.testing.assert_allclose(streamed[0].xyxy, reference.xyxy, atol=1e-3)
    with pytest.raises(RuntimeError, match="closed"):
        detector(bgr)
    with rtdetect.Detector(str(small_detector), backend=CPU, conf=0.1, channels="rgb") as detector:
        np.testing.assert_allclose(detector(rgb).xyxy, reference.xyxy, atol=1e-3)
    with pytest.raises(UsageError, match="channels"):
        rtdetect.Detector(str(small_detector), channels="bgra")
    with pytest.raises(UsageError, match=r"^max_det must be"):
        rtdetect.Detector(str(small_detector), max_det=0)


def test_alternating_shapes_reuse_their_engines(small_detector, data_dir, monkeypatch):
    """Issue 27 item 2: portrait and landscape pictures in turn reopened the engine on every call (4-5 s an
    image); the detector keeps an engine per input shape."""
    import rtdetect.api as api

    opened = []
    real_open = api.open_engine
    monkeypatch.setattr(api, "open_engine", lambda *a, **k: (opened.append(a[2]), real_open(*a, **k))[1])
    landscape = cv2.imread(str(data_dir / "bus.jpg"))[:400, :, :]  # wider than tall
    portrait = np.ascontiguousarray(landscape.transpose(1, 0, 2))
    with rtdetect.Detector(str(small_detector), backend=CPU) as detector:
        first = [detector(picture) for picture in (portrait, landscape)]
        again = [detector(picture) for picture in (portrait, landscape, portrait)]
        detector.configure(conf=0.9)  # a setting reaches every open engine
        assert all((detector(p).scores > 0.9).all() for p in (portrait, landscape))
    assert len(opened) == 2
    for one, two in zip(first, again):
        np.testing.assert_array_equal(one.xyxy, two.xyxy)
