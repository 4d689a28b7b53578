"""`rtdetect batch --source streams.txt` on a local 2-CPU Ray cluster: the streams dealt over actors, each
group through one engine (rtdetect.streams), one manifest entry and one output folder per stream, outputs
equal to single-process runs; a failing stream fails alone; a killed actor's streams restarted elsewhere."""
from __future__ import annotations

import json
import subprocess
import time

from tests.cluster.conftest import write_clip
from tests.cluster.test_batch import ENGINE, leftovers, manifest
from tests.pipeline.cli_helpers import assert_one_line_error, cli_command, run_cli


def stream_batch_args(listing, out, model, address, *extra) -> list:
    return ["batch", "--source", listing, "--output-dir", out, "--model", model, "--imgsz", "160", *ENGINE,
            "--cluster", address, "--no-progress", *extra]


def test_stream_list_on_actors_matches_single_process_runs(ray_cluster, vtest_frames, fall_dynamic_onnx, tmp_path):
    _, address = ray_cluster
    for k, name in enumerate(("one", "two", "three")):
        write_clip(tmp_path / f"{name}.mp4", vtest_frames[4 * k:4 * k + 4])
    listing = tmp_path / "streams.txt"
    listing.write_text("one.mp4\ntwo.mp4\nthree.mp4\nmissing.mp4\n")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(*stream_batch_args(listing, out, fall_dynamic_onnx, address, "--save"))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("rtdetect: error: 1 of 4 streams failed")
    files = manifest(out)
    assert files["missing"]["status"] == "failed" and "video file not found" in files["missing"]["error"]
    for name in ("one", "two", "three"):
        entry = files[name]
        assert (entry["status"], entry["frames"], entry["attempts"], entry["source"]) == ("done", 4, 1, f"{name}.mp4")
        assert entry["outputs"] == {f"{name}/{f}": (out / name / f).stat().st_size
                                    for f in ("detections.jsonl", "annotated.mp4")}
    single = tmp_path / "single.jsonl"
    ok = run_cli("--source", tmp_path / "three.mp4", "--model", fall_dynamic_onnx, "--imgsz", "160", *ENGINE,
                 "--json", single, "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert (out / "three/detections.jsonl").read_bytes() == single.read_bytes()
    assert leftovers(out) == []
    # Resume: the complete streams are skipped, the failed one is tried again.
    again = run_cli(*stream_batch_args(listing, out, fall_dynamic_onnx, address, "--save"))
    assert "3 already complete" in again.stderr, again.stderr


def test_killed_actor_restarts_its_streams_elsewhere_written_once(ray_cluster, vtest_frames, fall_dynamic_onnx,
                                                                   tmp_path):
    ray, address = ray_cluster
    for name in ("left", "right"):
        write_clip(tmp_path / f"{name}.mp4", vtest_frames * 3)  # 90 frames
    listing = tmp_path / "streams.txt"
    listing.write_text("left.mp4\nright.mp4\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(cli_command(*stream_batch_args(listing, out, fall_dynamic_onnx, address, "--actors", "1")),
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in out.glob("*/.*partial*")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    ray.kill(ray.get_actor(f"rtdetect-batch-{proc.pid}-1"))
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    files = manifest(out)
    for name in ("left", "right"):
        assert (files[name]["status"], files[name]["attempts"], files[name]["frames"]) == ("done", 2, 90), files
        lines = (out / name / "detections.jsonl").read_text().splitlines()
        assert [json.loads(line)["frame"] for line in lines] == list(range(90))
    assert leftovers(out) == []


def test_segment_with_a_stream_list_is_refused(tmp_path):
    (tmp_path / "streams.txt").write_text("a.mp4\n")
    result = run_cli("batch", "--source", tmp_path / "streams.txt", "--output-dir", tmp_path, "--segment", "1")
    assert_one_line_error(result, "--segment cuts files, not the streams of a stream list")
