"""`rtdetect batch` on a local 2-CPU Ray cluster: outputs byte-equal to single-process runs, a corrupt file
reported and not stopping the others, resume, a killed actor's file retried, Ctrl-C."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time

import cv2
import pytest

from rtdetect.cluster.driver import ActorShape, actor_shape, pool_size
from rtdetect.cluster.worker import BatchSettings
from tests.cluster.conftest import write_clip
from tests.pipeline.cli_helpers import assert_one_line_error, cli_command, run_cli

ENGINE = ("--backend", "onnxruntime", "--precision", "fp32")


def batch_args(source, out, model, address, *extra) -> list:
    return ["batch", "--source", source, "--output-dir", out, "--model", model, *ENGINE, "--cluster", address,
            "--no-progress", *extra]


def single_process_jsonl(clip, model, tmp_path) -> bytes:
    """The JSONL of the ordinary one-process command on ``clip``."""
    out = tmp_path / f"single-{clip.parent.name}-{clip.stem}.jsonl"
    result = run_cli("--source", clip, "--model", model, *ENGINE, "--json", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())["files"]


def leftovers(out) -> list:
    """Partials and lock files: none may stay behind after a batch ends."""
    return [p for p in out.rglob(".*") if ".partial-" in p.name or p.name.endswith(".lock")]


def video_frames(path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


def test_batch_matches_single_process_reports_corrupt_file_and_resumes(ray_cluster, archive, small_detector, tmp_path):
    _, address = ray_cluster
    root, paths = archive
    out = tmp_path / "out"
    out.mkdir()
    args = batch_args(f"{root}/**/*.mp4", out, small_detector, address, "--save")
    first = run_cli(*args)
    assert first.returncode == 1, first.stderr  # one file failed: the batch says so, after doing the others
    assert "rtdetect: error: 1 of 4 files failed" in first.stderr.splitlines()[-1]
    files = manifest(out)
    assert files["b/bad.mp4"]["status"] == "failed" and "bad.mp4" in files["b/bad.mp4"]["error"]
    for key in ("a/one.mp4", "a/two.mp4", "b/three.mp4"):
        stem = key[:-len(".mp4")]
        assert files[key]["status"] == "done" and files[key]["frames"] == 4 and files[key]["attempts"] == 1
        assert (out / f"{stem}.jsonl").read_bytes() == single_process_jsonl(paths[key], small_detector, tmp_path)
        assert video_frames(out / f"{stem}.mp4") == 4
        assert files[key]["outputs"] == {f"{stem}.jsonl": (out / f"{stem}.jsonl").stat().st_size,
                                         f"{stem}.mp4": (out / f"{stem}.mp4").stat().st_size}
    assert leftovers(out) == []

    # Resume: complete files are skipped (untouched); a damaged output makes its file be redone.
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.*") if p.name != "manifest.json"}
    expected_two = (out / "a/two.jsonl").read_bytes()
    (out / "a" / "two.jsonl").write_bytes(expected_two[:10])
    second = run_cli(*args)
    assert second.returncode == 1, second.stderr
    assert "2 already complete" in second.stderr, second.stderr
    assert (out / "a/two.jsonl").read_bytes() == expected_two
    for path in (out / "a/one.jsonl", out / "a/one.mp4", out / "b/three.jsonl", out / "b/three.mp4"):
        assert path.stat().st_mtime_ns == mtimes[path], path
    assert manifest(out)["a/one.mp4"] == files["a/one.mp4"]


@pytest.fixture
def long_clip(tmp_path, vtest_frames):
    """90 frames (the 30 of vtest_3s three times) and a 4-frame clip beside it."""
    root = tmp_path / "long"
    write_clip(root / "long.mp4", vtest_frames * 3)
    write_clip(root / "short.mp4", vtest_frames[:4])
    return root


def wait_for_partial(out, proc, timeout=120.0):
    """The partial JSONL of long.mp4 once its first frame is written; its name holds the writer's PID."""
    deadline = time.monotonic() + timeout
    while True:
        found = [p for p in out.glob(".long.partial-*.jsonl") if p.stat().st_size > 0]
        if found:
            return found[0]
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "long.mp4 never started"
        time.sleep(0.01)


def test_killed_actor_mid_file_is_retried_and_written_once(ray_cluster, long_clip, small_detector, tmp_path):
    ray, address = ray_cluster
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(cli_command(*batch_args(long_clip, out, small_detector, address, "--save")),
                            stderr=subprocess.PIPE, text=True)
    partial = wait_for_partial(out, proc)
    writer_pid = int(partial.name.split(".partial-")[1].split("-")[0])
    actors = [ray.get_actor(f"rtdetect-batch-{proc.pid}-{n}") for n in (1, 2)]
    victim = next(a for a in actors if ray.get(a.pid.remote(), timeout=30) == writer_pid)
    ray.kill(victim)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    entry = manifest(out)["long.mp4"]
    assert entry["status"] == "done" and entry["attempts"] == 2 and entry["frames"] == 90, entry
    lines = (out / "long.jsonl").read_bytes()
    assert [json.loads(line)["frame"] for line in lines.splitlines()] == list(range(90))
    assert lines == single_process_jsonl(long_clip / "long.mp4", small_detector, tmp_path)
    assert video_frames(out / "long.mp4") == 90
    assert manifest(out)["short.mp4"]["status"] == "done"
    assert leftovers(out) == []


def test_ctrl_c_ends_cleanly_with_a_manifest_of_what_finished(ray_cluster, long_clip, small_detector, tmp_path):
    _, address = ray_cluster
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(cli_command(*batch_args(long_clip, out, small_detector, address, "--actors", "1")),
                            stderr=subprocess.PIPE, text=True)
    wait_for_partial(out, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    files = manifest(out)
    # long.mp4 sorts first, so with one actor it is the file in hand: ended after its current frame, and
    # short.mp4 never started (no entry: a rerun does it).
    assert files["long.mp4"]["status"] == "interrupted" and 0 < files["long.mp4"]["frames"] < 90, files
    assert "short.mp4" not in files
    assert leftovers(out) == []


def test_long_videos_split_into_segments_give_the_whole_files_jsonl(ray_cluster, long_clip, data_dir,
                                                                    small_detector, tmp_path):
    _, address = ray_cluster
    shutil.copy(data_dir / "vtest_3s.mp4", long_clip / "vtest_3s.mp4")  # H.264 from tests/data; the others mp4v
    out = tmp_path / "out"
    out.mkdir()
    # 2.5 s at 10 fps: long.mp4 (90 frames) in 4 segments (25, 25, 25, 15), vtest_3s (30) in 2, short.mp4 whole.
    result = run_cli(*batch_args(long_clip, out, small_detector, address, "--segment", "2.5"))
    assert result.returncode == 0, result.stderr
    files = manifest(out)
    assert (files["long.mp4"]["segments"], files["vtest_3s.mp4"]["segments"]) == (4, 2)
    assert "segments" not in files["short.mp4"]
    for name, frames in (("long", 90), ("vtest_3s", 30)):
        lines = (out / f"{name}.jsonl").read_bytes()
        assert [json.loads(line)["frame"] for line in lines.splitlines()] == list(range(frames))
        assert lines == single_process_jsonl(long_clip / f"{name}.mp4", small_detector, tmp_path), name
        assert files[f"{name}.mp4"]["frames"] == frames
    assert sorted(p.name for p in out.iterdir()) == ["long.jsonl", "manifest.json", "short.jsonl", "vtest_3s.jsonl"]


def test_segment_with_save_is_refused(small_detector, tmp_path, data_dir):
    result = run_cli("batch", "--source", data_dir / "vtest_3s.mp4", "--output-dir", tmp_path, "--model",
                     small_detector, "--segment", "1", "--save")
    assert_one_line_error(result, "--segment cannot be combined with --save")


def test_without_the_cluster_extra_one_line_says_how_to_install_it(small_detector, tmp_path, data_dir):
    shadow = tmp_path / "no-ray"
    (shadow / "ray").mkdir(parents=True)
    (shadow / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    result = run_cli("batch", "--source", data_dir / "vtest_3s.mp4", "--output-dir", tmp_path, "--model",
                     small_detector, env={"PYTHONPATH": f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert_one_line_error(result, "pip install -e '.[cluster]' in the rtdetect clone")


@pytest.mark.parametrize("option, error", [(("--threads", "3"), "--threads 3: the cluster has 2 CPUs"),
                                           (("--backend", "tensorrt"), "--backend tensorrt: the cluster has no GPUs")])
def test_actors_the_cluster_cannot_hold_are_refused(ray_cluster, archive, small_detector, tmp_path, option, error):
    _, address = ray_cluster
    root, _ = archive
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(*batch_args(root, out, small_detector, address, *option))
    assert_one_line_error(result, error)


def test_actors_are_sized_one_per_gpu_when_the_engine_runs_on_gpus(small_detector):
    on_gpus = {"CPU": 16.0, "GPU": 4.0}
    for backend in ("tensorrt", "auto"):
        shape = actor_shape(on_gpus, BatchSettings(model=str(small_detector), backend=backend, threads=2))
        assert shape == ActorShape(cpus=1, gpus=1)
        assert pool_size(on_gpus, None, shape, jobs=10) == 4  # one engine per GPU, not one per 2 CPUs
        assert pool_size(on_gpus, None, shape, jobs=3) == 3
    cpu_shape = actor_shape(on_gpus, BatchSettings(model=str(small_detector), backend="openvino", threads=2))
    assert cpu_shape == ActorShape(cpus=2) and pool_size(on_gpus, None, cpu_shape, jobs=10) == 8
    no_gpus = {"CPU": 16.0}
    auto = actor_shape(no_gpus, BatchSettings(model=str(small_detector), backend="auto", threads=2))
    assert auto == ActorShape(cpus=2) and pool_size(no_gpus, None, auto, jobs=10) == 8



def test_a_second_batch_on_the_same_output_folder_is_refused(ray_cluster, long_clip, small_detector, tmp_path):
    _, address = ray_cluster
    out = tmp_path / "out"
    out.mkdir()
    args = batch_args(long_clip, out, small_detector, address, "--actors", "1")
    first = subprocess.Popen(cli_command(*args), stderr=subprocess.PIPE, text=True)
    wait_for_partial(out, first)
    second = run_cli(*args)
    assert_one_line_error(second, f"{out} is being written by another rtdetect run (PID {first.pid})")
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    files = manifest(out)
    assert {key: entry["status"] for key, entry in files.items()} == {"long.mp4": "done", "short.mp4": "done"}
    assert files["long.mp4"]["attempts"] == 1 and files["long.mp4"]["frames"] == 90
    assert leftovers(out) == []


def test_resume_redoes_damaged_entries_and_files_done_with_other_settings(ray_cluster, vtest_frames,
                                                                          small_detector, tmp_path):
    _, address = ray_cluster
    root, out = tmp_path / "clips", tmp_path / "out"
    write_clip(root / "one.mp4", vtest_frames[0:4])
    write_clip(root / "two.mp4", vtest_frames[4:8])
    write_clip(root / "three.mp4", vtest_frames[8:12])
    out.mkdir()
    first = run_cli(*batch_args(root, out, small_detector, address))
    assert first.returncode == 0, first.stderr

    # Entries edited by hand: not trusted, so those files are redone (and said so); the intact one is skipped.
    document = json.loads((out / "manifest.json").read_text())
    document["files"]["one.mp4"] = "done"
    document["files"]["two.mp4"]["outputs"] = None
    (out / "manifest.json").write_text(json.dumps(document))
    second = run_cli(*batch_args(root, out, small_detector, address))
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr, second.stderr
    notes = [line for line in second.stderr.splitlines() if "not valid" in line]
    assert len(notes) == 1 and "'one.mp4', 'two.mp4'" in notes[0], second.stderr
    assert "1 already complete" in second.stderr, second.stderr
    files = manifest(out)
    assert all(files[key]["status"] == "done" and files[key]["outputs"] for key in ("one.mp4", "two.mp4")), files

    # Other settings: nothing done with the earlier ones counts as complete; the same settings again skip all.
    mtimes = {path: path.stat().st_mtime_ns for path in out.glob("*.jsonl")}
    third = run_cli(*batch_args(root, out, small_detector, address, "--conf", "0.6"))
    assert third.returncode == 0, third.stderr
    assert "0 already complete" in third.stderr, third.stderr
    assert all(path.stat().st_mtime_ns != mtime for path, mtime in mtimes.items())  # each file redone
    files = manifest(out)
    assert {files[key]["settings"]["conf"] for key in files} == {0.6}
    fourth = run_cli(*batch_args(root, out, small_detector, address, "--conf", "0.6"))
    assert fourth.returncode == 0 and "3 already complete" in fourth.stderr, fourth.stderr
    assert "wrote" not in fourth.stderr  # nothing to do: the manifest was not rewritten, and no line says so


def test_an_inference_failure_fails_its_file_and_the_others_complete(ray_cluster, vtest_frames,
                                                                     bright_frame_failing_detector,
                                                                     small_detector, tmp_path):
    # The overexposed files fail midway (3 ordinary frames, then white ones): nothing of them may stay (each
    # output complete or absent), and an output an earlier run left for one of them stays as it was.
    _, address = ray_cluster
    root, out = tmp_path / "clips", tmp_path / "out"
    write_clip(root / "one.mp4", vtest_frames[0:4])
    white = [vtest_frames[0] * 0 + 255] * 4  # the engine fails on these
    write_clip(root / "overexposed.mp4", vtest_frames[8:11] + white)
    write_clip(root / "overexposed-again.mp4", vtest_frames[11:14] + white)
    write_clip(root / "two.mp4", vtest_frames[4:8])
    out.mkdir()
    earlier = b'{"frame":0,"earlier":true}\n'
    (out / "overexposed-again.jsonl").write_bytes(earlier)
    result = run_cli(*batch_args(root, out, bright_frame_failing_detector, address))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "rtdetect: error: 2 of 4 files failed" in result.stderr.splitlines()[-1], result.stderr
    files = manifest(out)
    for name in ("overexposed", "overexposed-again"):
        entry = files[f"{name}.mp4"]
        assert entry["status"] == "failed" and entry["frames"] == 0 and entry["outputs"] == {}, files
        assert "Gather" in entry["error"], files  # ONNX Runtime's reason
    assert not (out / "overexposed.jsonl").exists()
    assert (out / "overexposed-again.jsonl").read_bytes() == earlier
    for name in ("one", "two"):
        assert files[f"{name}.mp4"]["status"] == "done" and files[f"{name}.mp4"]["frames"] == 4, files
        # The fault adds 0 to ordinary frames: their JSONL is the unmodified detector's.
        assert (out / f"{name}.jsonl").read_bytes() == single_process_jsonl(root / f"{name}.mp4", small_detector,
                                                                           tmp_path)
    assert leftovers(out) == []


def test_a_worker_that_never_ends_after_a_stop_is_recorded_and_the_manifest_written(ray_cluster, long_clip,
                                                                                      small_detector, tmp_path):
    # A frozen worker (SIGSTOP: as a worker stuck in its engine or on a dead file system) does not end after
    # the stop: after the grace period the driver records its file, writes the manifest it names, and ends.
    _, address = ray_cluster
    out = tmp_path / "out"
    out.mkdir()
    args = batch_args(long_clip, out, small_detector, address, "--actors", "1")
    proc = subprocess.Popen(cli_command(*args, "--stop-grace", "5"), stderr=subprocess.PIPE, text=True)
    partial = wait_for_partial(out, proc)
    worker_pid = int(partial.name.split(".partial-")[1].split("-")[0])
    os.kill(worker_pid, signal.SIGSTOP)
    try:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):  # ended by the driver (SIGKILL) as it should be
            os.kill(worker_pid, signal.SIGCONT)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr, stderr
    assert f"rtdetect: wrote {out / 'manifest.json'}" in stderr.splitlines(), stderr
    files = manifest(out)
    assert files["long.mp4"]["status"] == "interrupted" and "did not end within 5 s" in files["long.mp4"]["error"], files
    assert "short.mp4" not in files
    rerun = run_cli(*args)  # redoes it; the frozen worker's partial and lock file are removed
    assert rerun.returncode == 0, rerun.stderr
    assert manifest(out)["long.mp4"]["status"] == "done" and manifest(out)["long.mp4"]["frames"] == 90
    assert leftovers(out) == []


def test_track_gives_the_single_process_tracks(ray_cluster, vtest_frames, fall_detection_dir, tmp_path):
    """--track on a batch: each file tracked on its own, its JSONL byte for byte the one-process command's
    (track ids included); --segment with --track is refused (identities would restart per segment)."""
    _, address = ray_cluster
    model = fall_detection_dir / "best_fp16.onnx"  # at 640 it sees vtest's walkers (the 160 px one does not)
    source = tmp_path / "clips"
    write_clip(source / "walk.mp4", vtest_frames[:6])
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(*batch_args(source, out, model, address, "--track"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (out / "walk.jsonl").read_text().splitlines()]
    assert sum(len(line["detections"]) for line in lines) >= 6
    assert all("track_id" in d for line in lines for d in line["detections"])
    single = tmp_path / "single.jsonl"
    done = run_cli("--source", source / "walk.mp4", "--model", model, *ENGINE, "--track", "--json", single,
                   "--no-progress")
    assert done.returncode == 0, done.stderr
    assert (out / "walk.jsonl").read_bytes() == single.read_bytes()
    assert manifest(out)["walk.mp4"]["status"] == "done"
    refused = run_cli(*batch_args(source, tmp_path / "other", model, address, "--track", "--segment", "1"))
    assert_one_line_error(refused, "--segment cannot be combined with --track")
