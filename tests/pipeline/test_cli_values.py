"""Wrong values and dangerous paths are refused in one line, before any model work.

"Before any model work" is checked by pointing the model cache at an empty folder with the default
(zoo) model: the first model step would convert into it, so it must still be empty afterwards.
"""
import hashlib
import os
import shutil

import pytest

from .cli_helpers import assert_one_line_error, run_cli


@pytest.fixture
def empty_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    return cache


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _unwritable_dir(tmp_path):
    """A folder where creating a file fails: /sys for root (which ignores permission bits), else a 0o555 folder."""
    if os.geteuid() == 0:
        return "/sys"
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    return str(folder)


@pytest.mark.parametrize("args, fragment", [
    (["--conf", "2"], "--conf must be a number in [0, 1]"),
    (["--conf", "-1"], "--conf must be a number in [0, 1]"),
    (["--conf", "nan"], "--conf must be a number in [0, 1]"),
    (["--iou", "2"], "--iou must be a number in [0, 1]"),
    (["--max-det", "0"], "--max-det must be an integer >= 1"),
    (["--imgsz", "0"], "--imgsz 0"),
    (["--imgsz", "641"], "multiple of 32"),
    (["--imgsz", "-32"], "--imgsz -32"),
    (["--imgsz", "100000"], "between 32 and 4096"),
    (["--imgsz", "1", "2", "3"], "one size N or two sizes H W"),
    (["--max-frames", "0"], "--max-frames must be an integer >= 1"),
    (["--max-frames", "-3"], "--max-frames must be an integer >= 1"),
    (["--no-such-option"], "unrecognized arguments"),
    (["--tracker", "sort"], "invalid choice: 'sort' (choose from 'bytetrack')"),
])
def test_bad_values_are_one_line_before_model_work(args, fragment, data_dir, empty_cache):
    result = run_cli("--source", data_dir / "bus.jpg", *args, env={"RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, fragment)
    assert list(empty_cache.iterdir()) == []


def test_missing_required_option_is_one_line_exit_1():
    assert_one_line_error(run_cli("--conf", "0.5"), "--source")


@pytest.mark.parametrize("args, fragment", [
    (["--imgsz", "0"], "--imgsz 0"),
    (["--imgsz", "641"], "multiple of 32"),
    (["-o", "model.txt"], "must end with .onnx"),
])
def test_export_values(args, fragment, tmp_path, fall_detection_dir):
    result = run_cli("export", fall_detection_dir / "best.pt", *(["-o", tmp_path / "x.onnx"] if "-o" not in args else []),
                     *args, cwd=tmp_path)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "model.txt").exists()


def test_export_never_replaces_its_checkpoint(tmp_path, fall_detection_dir):
    checkpoint = tmp_path / "copy.pt"
    shutil.copy(fall_detection_dir / "best.pt", checkpoint)
    before = _sha(checkpoint)
    assert_one_line_error(run_cli("export", checkpoint, "-o", checkpoint), "refusing to overwrite")
    os.link(checkpoint, tmp_path / "link.pt")  # a hard link is the same file under another name
    assert_one_line_error(run_cli("export", checkpoint, "-o", tmp_path / "link.pt"), "refusing to overwrite")
    assert _sha(checkpoint) == before


def test_save_never_replaces_the_source_video(tmp_path, data_dir, empty_cache):
    clip = tmp_path / "copy.mp4"
    shutil.copy(data_dir / "vtest_3s.mp4", clip)
    before = _sha(clip)
    env = {"RTDETECT_CACHE": str(empty_cache)}
    assert_one_line_error(run_cli("--source", clip, "--save", clip, env=env), "refusing to overwrite")
    os.symlink(clip, tmp_path / "alias.mp4")
    assert_one_line_error(run_cli("--source", clip, "--save", tmp_path / "alias.mp4", env=env), "refusing to overwrite")
    assert _sha(clip) == before and list(empty_cache.iterdir()) == []


def test_save_into_the_source_folder_never_replaces_an_image(tmp_path, data_dir, empty_cache):
    shutil.copy(data_dir / "bus.jpg", tmp_path / "bus.jpg")
    before = _sha(tmp_path / "bus.jpg")
    result = run_cli("--source", tmp_path, "--save", f"{tmp_path}/", env={"RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, "refusing to overwrite", "bus.jpg")
    assert _sha(tmp_path / "bus.jpg") == before


@pytest.mark.parametrize("option, value, fragment", [
    ("--json", "out.json", "JSON Lines"),
    ("--save", "out.mp4", "images are saved as images"),
    ("--save", "out.jpg", "2 images need a folder"),
])
def test_output_kind_must_fit(option, value, fragment, tmp_path, data_dir, empty_cache):
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(data_dir / "dog.jpg", tmp_path / name)
    result = run_cli("--source", tmp_path, option, tmp_path / value, env={"RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "b.jpg", "cache"]


def test_video_source_needs_a_video_file(tmp_path, data_dir, empty_cache):
    result = run_cli("--source", data_dir / "vtest_3s.mp4", "--save", tmp_path / "frame.jpg",
                     env={"RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, "video source is saved as a video file")


@pytest.mark.parametrize("option, name", [("--json", "out.jsonl"), ("--save", "out.mp4")])
def test_unwritable_output_folder_is_one_line_before_model_work(option, name, tmp_path, data_dir, empty_cache):
    target = os.path.join(_unwritable_dir(tmp_path), name)
    result = run_cli("--source", data_dir / "vtest_3s.mp4", option, target, env={"RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, "cannot write to")
    assert list(empty_cache.iterdir()) == [] and not os.path.exists(target)


def test_cache_that_is_a_file_or_unwritable_is_one_line(tmp_path, data_dir):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("x")
    for cache in (not_a_folder, os.path.join(_unwritable_dir(tmp_path), "rtdetect-cache")):
        result = run_cli("--source", data_dir / "bus.jpg", "--json", tmp_path / "o.jsonl",
                         env={"RTDETECT_CACHE": str(cache)})
        assert_one_line_error(result, "cannot write the model cache", "RTDETECT_CACHE")
    assert not (tmp_path / "o.jsonl").exists()


def test_unreachable_display_is_one_line_and_leaves_nothing(tmp_path, data_dir, empty_cache):
    # No X server listens on display 97: OpenCV's Qt window would abort the process (exit 134).
    result = run_cli("--source", data_dir / "vtest_3s.mp4", "--show", "--save", tmp_path / "o.mp4", "--json",
                     tmp_path / "o.jsonl", env={"DISPLAY": ":97", "RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, "--show", ":97")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"] and list(empty_cache.iterdir()) == []


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("rtdetect ") and result.stdout.split()[1][0].isdigit()


@pytest.mark.parametrize("source, fragment", [("missing.mp4", "not found"), ("63", "camera 63"),
                                              ("rtsp://127.0.0.1:9/x", "cannot open stream")])
def test_source_is_checked_before_model_work(source, fragment, tmp_path, empty_cache):
    result = run_cli("--source", source, "--json", tmp_path / "o.jsonl", cwd=tmp_path,
                     env={"RTDETECT_CACHE": str(empty_cache)})
    assert_one_line_error(result, fragment)
    assert list(empty_cache.iterdir()) == []


def test_output_dir_is_created_when_its_parent_exists(tmp_path):
    """Was: `--output-dir out/` (stream lists, batch) refused with "not an existing folder", while
    `--save annotated/` creates its folder."""
    from rtdetect.errors import OutputError
    from rtdetect.files import check_output_dir

    check_output_dir(str(tmp_path / "out") + "/")
    assert (tmp_path / "out").is_dir() and os.listdir(tmp_path / "out") == []
    with pytest.raises(OutputError, match="not an existing folder"):
        check_output_dir(str(tmp_path / "missing" / "out"))  # its parent is missing too: nothing is created
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not an existing folder"):
        check_output_dir(str(tmp_path / "file"))
    assert sorted(os.listdir(tmp_path)) == ["file", "out"]
