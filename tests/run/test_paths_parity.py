"""Issue 25: one run loop, so every path has every feature. The same file (and a live stream) through each
path a user can take — one source, a live RTSP stream, a stream list, ``rtdetect batch`` on a file and on a
stream list, ``Detector.stream`` — with a tracker and a counting line: each path tracks and counts, reports its
stage timings (the tracker's among them), and the file paths write the same JSONL bytes."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import pytest

from rtdetect import Detector
from rtdetect.app import detect, detect_streams
from rtdetect.sinks import JsonlSink
from tests.cluster.conftest import write_clip
from tests.pipeline.cli_helpers import run_cli

ENGINE = {"backend": "onnxruntime", "precision": "fp32", "imgsz": 320}
ENGINE_ARGS = ("--backend", "onnxruntime", "--precision", "fp32", "--imgsz", "320")
LINE = (384.0, 0.0, 384.0, 576.0)  # a vertical line through the middle of vtest's 768x576 frames
LINE_ARG = "384,0,384,576"
PATHS = ["single", "live", "stream_list", "batch_file", "batch_streams", "detector_stream"]


@dataclass
class Outcome:
    """What one path produced: its JSONL lines, the stages it timed, its final line counts."""

    jsonl: bytes
    stages: set = field(default_factory=set)
    line_counts: list = field(default_factory=list)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, vtest_frames):
    path = tmp_path_factory.mktemp("parity") / "walk.mp4"
    write_clip(path, vtest_frames[:12])
    return path


def listing(folder, *sources) -> str:
    path = folder / "streams.txt"
    path.write_text("".join(f"{s}\n" for s in sources))
    return str(path)


def via_single(clip, model, tmp_path, request) -> Outcome:
    out = tmp_path / "single.jsonl"
    run = detect(source=str(clip), model=model, json_path=str(out), progress=False, track=True, count_lines=[LINE],
                 **ENGINE)
    return Outcome(out.read_bytes(), set(run.summary.stages.summary()), run.summary.line_counts)


def via_live(clip, model, tmp_path, request) -> Outcome:
    from live_servers import RtspServer, clip_frames, rtsp_server_missing

    reason = rtsp_server_missing()
    if reason:
        pytest.skip(reason)
    server = RtspServer(clip_frames(clip, (768, 576), count=12), size=(768, 576), fps=10)
    request.addfinalizer(server.kill)
    out = tmp_path / "live.jsonl"
    run = detect(source=server.url(), model=model, json_path=str(out), progress=False, track=True, count_lines=[LINE],
                 max_frames=8, **ENGINE)
    return Outcome(out.read_bytes(), set(run.summary.stages.summary()), run.summary.line_counts)


def via_stream_list(clip, model, tmp_path, request) -> Outcome:
    (tmp_path / "out").mkdir()
    result = detect_streams(source=listing(tmp_path, clip), output_dir=str(tmp_path / "out"), model=model,
                            track=True, count_lines=[LINE], **ENGINE)
    (stream,) = result.streams
    return Outcome((tmp_path / "out" / stream.name / "detections.jsonl").read_bytes(), set(stream.stages.summary()),
                   stream.line_counts)


def batch_outcome(out, name, jsonl) -> Outcome:
    entry = json.loads((out / "manifest.json").read_text())["files"][name]
    assert entry["status"] == "done", entry
    return Outcome((out / jsonl).read_bytes(), set(entry["stages_ms"]), entry["line_counts"])


def via_batch_file(clip, model, tmp_path, request) -> Outcome:
    _, address = request.getfixturevalue("ray_cluster")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("batch", "--source", clip, "--output-dir", out, "--model", model, *ENGINE_ARGS, "--track",
                     "--count-line", LINE_ARG, "--cluster", address, "--no-progress")
    assert result.returncode == 0, result.stderr
    return batch_outcome(out, "walk.mp4", "walk.jsonl")


def via_batch_streams(clip, model, tmp_path, request) -> Outcome:
    _, address = request.getfixturevalue("ray_cluster")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("batch", "--source", listing(tmp_path, clip), "--output-dir", out, "--model", model, *ENGINE_ARGS,
                     "--track", "--count-line", LINE_ARG, "--cluster", address, "--no-progress")
    assert result.returncode == 0, result.stderr
    return batch_outcome(out, "walk", "walk/detections.jsonl")


def via_detector_stream(clip, model, tmp_path, request) -> Outcome:
    out = tmp_path / "stream.jsonl"
    threads_before = threading.active_count()
    with Detector(model, **ENGINE) as detector:
        stream = detector.stream(str(clip), track=True, count_lines=[LINE])
        first_frame, first = next(stream)
        running = threading.active_count() - threads_before  # capture + the model's three stages
        sink = JsonlSink(str(out), detector.names)
        sink.write(first_frame, first, None)
        last = first
        for frame, last in stream:
            sink.write(frame, last, None)
        sink.close()
    assert running == 4  # the runner's own threads, and no hand-off thread beside them
    assert stream.result.frames == 12 and stream.result.source == "walk.mp4"
    return Outcome(out.read_bytes(), set(stream.result.stages.summary()), last.extra["line_counts"])


RUNS = {"single": via_single, "live": via_live, "stream_list": via_stream_list, "batch_file": via_batch_file,
        "batch_streams": via_batch_streams, "detector_stream": via_detector_stream}


@pytest.fixture(scope="module")
def reference(clip, v5seg_dynamic_onnx, tmp_path_factory) -> Outcome:
    """The one-source run's JSONL: what every file path must write byte for byte."""
    return via_single(clip, str(v5seg_dynamic_onnx), tmp_path_factory.mktemp("reference"), None)


@pytest.mark.parametrize("path", PATHS)
def test_every_path_tracks_counts_times_and_writes_the_same_jsonl(path, clip, v5seg_dynamic_onnx, reference,
                                                                  tmp_path, request):
    outcome = RUNS[path](clip, str(v5seg_dynamic_onnx), tmp_path, request)
    records = [json.loads(line) for line in outcome.jsonl.splitlines()]
    assert records and sum(len(r["detections"]) for r in records) > 0
    assert all("track_id" in d for r in records for d in r["detections"])  # tracked
    assert all(r["counts"][0]["line"] == list(LINE) for r in records)    # counted, frame by frame
    assert outcome.line_counts == records[-1]["counts"]                  # the run's totals: the last frame's
    assert {"capture", "inference", "track"} <= outcome.stages or {"capture", "gpu", "track"} <= outcome.stages
    if path != "live":  # a live stream's frames are its own: the same file gives the same bytes on every path
        assert outcome.jsonl == reference.jsonl
