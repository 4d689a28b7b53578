"""Many streams through one engine (rtdetect.streams): each stream's detections are exactly those of its
own single-stream run, in batches of more than one frame; failing streams fail alone; names never hold
credentials; the command's stream list and its errors."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import cv2
import pytest

from rtdetect.capture import open_source
from rtdetect.inference import create_engine
from rtdetect.run import CpuModel, Runner
from rtdetect.postprocess import PostprocessConfig
from rtdetect.sinks import JsonlSink
from rtdetect.streams import StreamEntry, StreamOutputs, read_stream_list, run_streams, unique_names
from tests.cluster.conftest import write_clip
from tests.pipeline.cli_helpers import assert_one_line_error, cli_command, run_cli

ENGINE = ("--backend", "onnxruntime", "--precision", "fp32")


class RecordingEngine:
    """A real engine that records the batch size of every ``infer`` call."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.batches: list[int] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def infer(self, tensor):
        self.batches.append(int(tensor.shape[0]))
        return self._engine.infer(tensor)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, vtest_frames):
    """Two different clips of different sizes (768x576 and 640x360) and a copy of the first."""
    root = tmp_path_factory.mktemp("clips")
    write_clip(root / "big.mp4", vtest_frames[:6])
    write_clip(root / "small.mp4", [cv2.resize(f, (640, 360)) for f in vtest_frames[10:17]])
    shutil.copy(root / "big.mp4", root / "copy.mp4")
    return [root / "big.mp4", root / "small.mp4", root / "copy.mp4"]


def entries_of(paths) -> list[StreamEntry]:
    specs = [str(p) for p in paths]
    return [StreamEntry(spec, name, k + 1) for k, (spec, name) in enumerate(zip(specs, unique_names(specs)))]


def single_run_jsonl(pipeline: CpuModel, path, out) -> bytes:
    """The existing one-source pipeline's JSONL for ``path``."""
    sink = JsonlSink(str(out), pipeline.names)
    with open_source(str(path)) as src:
        Runner(pipeline).run(src, [sink])
    sink.close()
    return out.read_bytes()


def batched_run(model, paths, out, **outputs):
    """The stream list ``paths`` through ``model``: its result and the notes it logged."""
    notes: list[str] = []
    result = run_streams(entries_of(paths), lambda sizes: model, StreamOutputs(str(out), **outputs), log=notes.append)
    return result, notes


def test_streams_share_one_engine_call_and_match_separate_runs(v5seg_dynamic_onnx, clips, tmp_path):
    engine = create_engine(str(v5seg_dynamic_onnx), backend="onnxruntime", precision="fp32", imgsz=(320, 320))
    with engine:
        recorder = RecordingEngine(engine)
        batched = CpuModel(recorder, PostprocessConfig())
        recorder.batches.clear()  # the warm-up's calls
        result, notes = batched_run(batched, clips, tmp_path / "out")
        calls = list(recorder.batches)
        single = CpuModel(engine, PostprocessConfig())
        expected = {p.stem: single_run_jsonl(single, p, tmp_path / f"{p.stem}.jsonl") for p in clips}
    assert notes == []
    assert [s.status for s in result.streams] == ["done"] * 3
    assert [s.frames for s in result.streams] == [6, 7, 6]
    assert sum(calls) == 19 and max(calls) == 3 and len(calls) < 19, calls  # batches, not one call per frame
    for name, jsonl in expected.items():
        got = (tmp_path / "out" / name / "detections.jsonl").read_bytes()
        assert got == jsonl, name  # boxes, scores, classes, masks (RLE), frame indices and pts
    lines = [json.loads(line) for line in expected["small"].splitlines()]
    assert [line["frame"] for line in lines] == list(range(7))
    assert sum(len(line["detections"]) for line in lines) > 0
    assert all("mask" in d for line in lines for d in line["detections"])


def test_fixed_batch_model_gets_one_call_per_frame_said_once(small_detector, clips, tmp_path):
    engine = create_engine(str(small_detector), backend="onnxruntime", precision="fp32")
    with engine:
        recorder = RecordingEngine(engine)
        pipeline = CpuModel(recorder, PostprocessConfig())
        recorder.batches.clear()
        result, notes = batched_run(pipeline, clips[:2], tmp_path / "out", max_frames=4)
        single = CpuModel(engine, PostprocessConfig())
        expected = single_run_jsonl(single, clips[1], tmp_path / "small.jsonl")
    assert len(notes) == 1 and "batch is fixed at 1" in notes[0]
    assert recorder.batches == [1] * 8
    assert [s.frames for s in result.streams] == [4, 4]
    assert (tmp_path / "out/small/detections.jsonl").read_bytes() == b"".join(expected.splitlines(True)[:4])


def test_stream_names_are_safe_unique_and_hold_no_credentials():
    specs = ["rtsp://admin:S3cret@cam1.local:554/live/ch1?token=abc", "rtsp://cam1.local:554/live/ch1?user=x",
             "/data/front door.mp4", "0", "http://:tok3n@[::1]:8080/", "rtsp://bad:port@host:99999/x"]
    names = unique_names(specs)
    assert names == ["cam1.local_554_live_ch1", "cam1.local_554_live_ch1-2", "front_door", "camera0", "1_8080",
                     "stream"]
    assert not any(secret in "".join(names) for secret in ("admin", "S3cret", "abc", "tok3n"))


def test_stream_list_reads_comments_blanks_and_relative_paths(tmp_path):
    (tmp_path / "list.txt").write_text("# cameras\n\n  cam/a.mp4  \nrtsp://u:p@h/x\n")
    entries = read_stream_list(str(tmp_path / "list.txt"))
    assert [(e.spec, e.name, e.line) for e in entries] == [(str(tmp_path / "cam/a.mp4"), "a", 3),
                                                          ("rtsp://u:p@h/x", "h_x", 4)]
    assert entries[1].shown == "rtsp://u:***@h/x"


def test_command_runs_a_stream_list_failing_streams_alone(fall_dynamic_onnx, clips, tmp_path):
    secret = "rtsp://admin:S3cret@127.0.0.1:9/cam?token=abc"  # nothing listens on port 9: refused at once
    listing = tmp_path / "streams.txt"
    listing.write_text(f"# two clips, a missing file, a dead camera\n{clips[0]}\n\n{clips[1]}\n"
                       f"{tmp_path / 'missing.mp4'}\n{secret}\n")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("--source", listing, "--output-dir", out, "--model", fall_dynamic_onnx, "--imgsz", "160",
                     *ENGINE, "--save", "--reconnect", "0", "--timeout", "2")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == "rtdetect: error: 2 of 4 streams failed"
    assert "missing: failed: video file not found" not in result.stderr  # the line names the source too
    assert "(missing.mp4): 0 frames, 0 detections; failed: video file not found" in result.stderr
    assert "127.0.0.1_9_cam (rtsp://admin:***@127.0.0.1:9/cam?token=***)" in result.stderr
    assert "Traceback" not in result.stderr and "S3cret" not in result.stderr and "abc" not in result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "big", "big/annotated.mp4", "big/detections.jsonl", "small", "small/annotated.mp4", "small/detections.jsonl"]
    single = tmp_path / "single.jsonl"
    # 768x576 and 640x360 have different aspect ratios: the streams share a square input
    ok = run_cli("--source", clips[1], "--model", fall_dynamic_onnx, "--imgsz", "160", "160", *ENGINE,
                 "--json", single, "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert (out / "small/detections.jsonl").read_bytes() == single.read_bytes()
    capture = cv2.VideoCapture(str(out / "big/annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6


@pytest.mark.parametrize("content, args, fragment", [
    ("# nothing but a comment\n\n", (), "the stream list is empty"),
    (None, (), "stream list not found"),
    ("a.mp4\nrtsp://u:secret@h/x\n\nrtsp://u:secret@h/x\n", (), "line 4 repeats line 2 (rtsp://u:***@h/x)"),
    ("a.mp4\n", ("--show",), "--show does not apply to a stream list"),
    ("a.mp4\n", (), "needs --output-dir"),
])
def test_bad_stream_lists_are_one_line_errors(tmp_path, content, args, fragment):
    listing = tmp_path / "streams.txt"
    if content is not None:
        listing.write_text(content)
    where = () if fragment == "needs --output-dir" else ("--output-dir", tmp_path)
    result = run_cli("--source", listing, *where, *args)
    assert_one_line_error(result, fragment)
    assert "secret" not in result.stderr


def test_ctrl_c_ends_every_stream_with_outputs_finalised(fall_dynamic_onnx, vtest_frames, tmp_path):
    write_clip(tmp_path / "one.mp4", vtest_frames * 4)
    write_clip(tmp_path / "two.mp4", vtest_frames * 4)
    (tmp_path / "streams.txt").write_text("one.mp4\ntwo.mp4\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(cli_command("--source", tmp_path / "streams.txt", "--output-dir", out, "--model",
                                        fall_dynamic_onnx, "--imgsz", "160", *ENGINE),
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in out.rglob(".*partial*")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert [p.name for p in out.rglob(".*")] == []  # no partial or lock left
    for name in ("one", "two"):
        frames = [json.loads(line)["frame"] for line in (out / name / "detections.jsonl").read_text().splitlines()]
        assert 0 < len(frames) < 120 and frames == list(range(len(frames))), name
    assert "one (one.mp4): " in stderr and "interrupted: stopped before its end" in stderr


def test_output_folder_in_use_is_refused_before_any_model_loads(clips, tmp_path):
    """Issue 25: outputs and locks checked before the model on every path. A stream list into a folder another
    run holds (a stream list or a batch: the same lock) is one line, before the model (missing here) is read."""
    from rtdetect.streams import hold_output_dir

    out = tmp_path / "out"
    out.mkdir()
    listing = tmp_path / "streams.txt"
    listing.write_text(f"{clips[0]}\n")
    held = hold_output_dir(str(out))
    try:
        result = run_cli("--source", listing, "--output-dir", out, "--model", tmp_path / "missing.onnx")
    finally:
        held.release()
    assert_one_line_error(result, "is being written by another rtdetect run")
    assert "missing.onnx" not in result.stderr
