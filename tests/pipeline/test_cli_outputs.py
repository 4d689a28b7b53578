"""What a run writes: annotated images per input, JSON Lines on stdout, videos that keep every pixel,
and a summary that counts honestly. Real runs of the real command on a small real detector (160x160)."""
import json
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from .cli_helpers import run_cli
from .helpers import decoded_frame_count


def _write_gif(path, width, height, frames):
    """An animated GIF (OpenCV reads it as a video); unlike OpenCV's writers it keeps odd sizes."""
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)) for _ in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)


def _write_truncated_avi(path, announced, keep_fraction=0.5):
    """An MJPG AVI whose header announces ``announced`` frames but which is cut short, so fewer decode."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(1)
    for _ in range(announced):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep_fraction)])


def test_glob_over_subfolders_gives_images_json_on_stdout_and_names_skipped_files(small_detector, data_dir, tmp_path):
    root = tmp_path / "photos"
    for sub, image in (("a", "bus.jpg"), ("b", "zidane.jpg"), ("c", None)):
        (root / sub).mkdir(parents=True)
        if image:
            shutil.copy(data_dir / image, root / sub / "img.jpg")
    (root / "c" / "img.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "annotated"
    result = run_cli("--source", root / "*" / "*.jpg", "--model", small_detector, "--save", f"{out}/", "--json", "-",
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == ["a/img.jpg", "b/img.jpg"]
    assert all(r["pts"] == 0.0 and r["frame"] == 0 for r in records)
    for sub, image in (("a", "bus.jpg"), ("b", "zidane.jpg")):
        written = cv2.imread(str(out / sub / "img.jpg"))
        assert written.shape == cv2.imread(str(data_dir / image)).shape  # its own size, not the first image's
    assert not (out / "c").exists()
    assert "c/img.jpg" in result.stderr and "2 images in" in result.stderr and "1 image skipped" in result.stderr


def test_single_image_to_an_image_file(small_detector, data_dir, tmp_path):
    result = run_cli("--source", data_dir / "dog.jpg", "--model", small_detector, "--save", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr
    written = cv2.imread(str(tmp_path / "out.png"))
    original = cv2.imread(str(data_dir / "dog.jpg"))
    assert written.shape == original.shape and not np.array_equal(written, original)  # annotated
    assert "1 image in" in result.stderr and "1 annotated image" in result.stderr


def test_folder_of_only_corrupt_images_is_a_clear_error(small_detector, tmp_path):
    for name in ("x.jpg", "y.png"):
        (tmp_path / name).write_bytes(b"garbage")
    result = run_cli("--source", tmp_path, "--model", small_detector, "--json", tmp_path / "o.jsonl")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert "x.jpg" in result.stderr and "y.png" in result.stderr
    assert lines[-1].startswith("rtdetect: error: none of the 2 images") and "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_odd_width_video_keeps_every_column_and_says_its_codec(small_detector, tmp_path):
    _write_gif(tmp_path / "odd.gif", 203, 101, 3)
    out = tmp_path / "out.mp4"
    result = run_cli("--source", tmp_path / "odd.gif", "--model", small_detector, "--save", out, "--max-frames", "1")
    assert result.returncode == 0, result.stderr
    capture = cv2.VideoCapture(str(out))
    ok, frame = capture.read()
    assert ok and frame.shape == (102, 204, 3)  # padded up to even sizes, never cut down to 202
    assert decoded_frame_count(out) == 1
    assert "1 frame in" in result.stderr and "(1 frame, " in result.stderr
    assert "(1 frame, H.264)" in result.stderr  # PyAV's libx264, in its wheels


def test_max_frames_counts_only_the_frames_asked_for(small_detector, tmp_path):
    clip = tmp_path / "cut.avi"
    _write_truncated_avi(clip, announced=30)
    decodable = decoded_frame_count(clip)
    assert 5 < decodable < 20
    result = run_cli("--source", clip, "--model", small_detector, "--max-frames", "20", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"{decodable} frames in" in result.stderr
    assert f"{20 - decodable} frames could not be decoded" in result.stderr
    assert "warning: no --save, --json or --show" in result.stderr


def test_fixed_shape_onnx_says_once_that_imgsz_is_ignored(small_detector, data_dir, tmp_path):
    result = run_cli("--source", data_dir / "bus.jpg", "--model", small_detector, "--imgsz", "320",
                     "--json", tmp_path / "o.jsonl")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("fixed 160x160 input; --imgsz 320 is ignored") == 1


@pytest.mark.parametrize("target", ["-", "/dev/stdout"])
def test_json_streams_to_stdout(small_detector, data_dir, target):
    result = run_cli("--source", data_dir / "vtest_3s.mp4", "--model", small_detector, "--json", target,
                     "--max-frames", "2")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["frame"] for r in records] == [0, 1] and "2 frames in" in result.stderr


def test_json_reader_that_stops_early_ends_the_run_in_one_line(small_detector, data_dir):
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "rtdetect.cli", "--source", str(data_dir / "vtest_3s.mp4"),
                                "--model", str(small_detector), "--json", "-", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()  # like `| head -1`: read one line, then close the pipe
    process.stdout.close()
    _, stderr = process.communicate(timeout=300)
    assert json.loads(first)["frame"] == 0
    assert process.returncode == 1 and "Traceback" not in stderr and "Exception ignored" not in stderr
    assert stderr.strip().splitlines()[-1] == "rtdetect: error: standard output was closed by its reader; stopped"
