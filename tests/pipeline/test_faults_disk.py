"""Write failures against the real command: a file-size limit (RLIMIT_FSIZE, everywhere) and a full tmpfs
(where this process may mount one). Afterwards: one error line and exit 1, earlier outputs untouched, what
is kept is complete (JSONL lines whole, a video only if playable), and no partial or lock file is left."""
import json
import resource
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from .cli_helpers import assert_one_line_error, run_cli
from .helpers import decoded_frame_count, leftovers


@pytest.fixture(scope="module")
def onnx_model(fall_detection_dir):
    return str(fall_detection_dir / "best_fp16.onnx")


def run_limited(args, max_file_bytes=None):
    """The CLI in a subprocess whose files may not grow beyond ``max_file_bytes`` (writes then fail, EFBIG)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return run_cli(*args, preexec_fn=limit if max_file_bytes else None)


def jsonl_records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_video_over_the_limit_never_replaces_a_good_earlier_video(onnx_model, data_dir, tmp_path):
    """Was: exit 0, the good out.mp4 replaced by an unplayable file (OpenCV's writer reports nothing)."""
    out = tmp_path / "out.mp4"
    shutil.copyfile(data_dir / "vtest_3s.mp4", out)
    before = out.read_bytes()
    result = run_limited(["--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--save", out,
                          "--max-frames", 10, "--no-progress"], max_file_bytes=64 * 1024)
    assert_one_line_error(result, "cannot finalise", "out.mp4", "left as it was")
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("earlier", [False, True], ids=["new", "earlier-output"])
def test_jsonl_write_error_keeps_complete_lines_or_the_earlier_file(onnx_model, data_dir, tmp_path, earlier):
    """Was: a traceback ending in OSError and the JSONL left behind as a hidden partial."""
    out = tmp_path / "out.jsonl"
    if earlier:
        out.write_text('{"earlier": true}\n')
    limit = 2000
    result = run_limited(["--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--json", out,
                          "--max-frames", 12, "--no-progress"], max_file_bytes=limit)
    assert_one_line_error(result, "cannot write", "out.jsonl", "File too large")
    if earlier:
        assert "left as it was" in result.stderr and out.read_text() == '{"earlier": true}\n'
    else:
        records = jsonl_records(out)  # every line complete and parseable
        assert 1 <= len(records) < 12 and out.stat().st_size <= limit
        assert [r["frame"] for r in records] == list(range(len(records)))
        assert f"the {len(records)} complete lines written before it are kept" in result.stderr
    assert leftovers(tmp_path) == []


def test_video_over_the_limit_with_jsonl_keeps_the_lines_and_no_broken_video(onnx_model, data_dir, tmp_path):
    """Was: an unplayable mp4 renamed into place."""
    result = run_limited(["--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--save",
                          tmp_path / "out.mp4", "--json", tmp_path / "out.jsonl", "--max-frames", 8,
                          "--no-progress"], max_file_bytes=64 * 1024)
    assert_one_line_error(result, "cannot finalise", "out.mp4")
    assert len(jsonl_records(tmp_path / "out.jsonl")) == 8
    assert not (tmp_path / "out.mp4").exists()
    assert leftovers(tmp_path) == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KiB tmpfs at tmp_path/disk, unmounted afterwards; skipped where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to create a small tmpfs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def small_video(path, frames=3):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()


@pytest.mark.parametrize("earlier", [False, True], ids=["new", "earlier-outputs"])
def test_full_disk_with_video_and_jsonl(onnx_model, data_dir, small_tmpfs, earlier):
    """Was: a 43-line traceback ending in ENOSPC, an unplayable mp4 renamed into place, a hidden JSONL."""
    video, jsonl = small_tmpfs / "out.mp4", small_tmpfs / "out.jsonl"
    if earlier:
        small_video(video)
        jsonl.write_text('{"earlier": true}\n')
        before = video.read_bytes(), jsonl.read_bytes()
    result = run_limited(["--source", data_dir / "vtest_3s.mp4", "--model", onnx_model, "--save", video,
                          "--json", jsonl, "--no-progress"])
    assert_one_line_error(result, "No space left on device")
    if earlier:
        assert (video.read_bytes(), jsonl.read_bytes()) == before
    else:
        records = jsonl_records(jsonl)
        # the disk fills during the run or, the H.264 encoder holding frames back, when the video is finished
        assert [r["frame"] for r in records] == list(range(len(records))) and len(records) <= 30
        if video.exists():  # kept only when complete: then one frame per line
            assert decoded_frame_count(video) == len(records)
    assert leftovers(small_tmpfs) == []
