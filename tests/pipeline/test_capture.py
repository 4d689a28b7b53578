import os
import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from rtdetect.capture import CameraSource, ImageSource, StreamSource, VideoFileSource, open_source
from rtdetect.capture.live import LatestFrame
from rtdetect.errors import SourceError


def frames_of(source):
    with source as s:
        return list(s), s


def test_video_every_frame_in_order(data_dir):
    frames, src = frames_of(open_source(str(data_dir / "vtest_3s.mp4")))
    assert [f.index for f in frames] == list(range(30)) and src.frame_count == 30 and src.frames_lost == 0
    assert frames[3].pts == pytest.approx(0.3) and frames[0].image.shape == (576, 768, 3)
    assert not src.is_live


def test_a_path_that_exists_as_given_is_not_stripped(tmp_path, data_dir, monkeypatch):
    """Was: ``--source 'trail.mp4 '`` (a real file name ending in a space) was stripped: "not found"."""
    trailing = tmp_path / "trail.mp4 "
    shutil.copy(data_dir / "vtest_3s.mp4", trailing)
    frames, src = frames_of(open_source(str(trailing)))
    assert len(frames) == 30 and src.name == "trail.mp4 " and src.input_files() == [str(trailing)]
    monkeypatch.chdir(tmp_path)
    frames, src = frames_of(open_source(" demo "))  # spaces around a name that is no file still go
    assert len(frames) == 50


def test_demo_clip_is_bundled():
    frames, src = frames_of(open_source("demo"))
    assert len(frames) == 50 and src.fps == pytest.approx(10)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "not found"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(20000)), "not a video"),
])
def test_bad_video_files(tmp_path, make, message):
    path = tmp_path / "clip.mp4"
    make(path)
    with pytest.raises(SourceError, match=message):
        frames_of(open_source(str(path)))


def test_truncated_video_processes_what_decodes_and_counts_the_rest(tmp_path, data_dir):
    # An AVI (MJPG) cut in half: the index at the end is lost, so FFmpeg reads frames until the data ends.
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10, (768, 576))
    with open_source(str(data_dir / "vtest_3s.mp4")) as src:
        for f in src:
            writer.write(f.image)
    writer.release()
    cut = tmp_path / "cut.avi"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    frames, src = frames_of(open_source(str(cut)))
    assert 0 < len(frames) < 30
    if src.frame_count:  # the header still announces 30: the loss is reported
        assert src.frames_lost == src.frame_count - len(frames)


def test_absent_camera():
    with pytest.raises(SourceError, match="camera 57 is not available"):
        frames_of(CameraSource(57))


def test_unreachable_stream():
    start = time.monotonic()
    with pytest.raises(SourceError, match="cannot open stream"):
        frames_of(StreamSource("rtsp://127.0.0.1:9/none"))
    assert time.monotonic() - start < 20


def write_image(path, image):
    assert cv2.imwrite(str(path), image)


@pytest.mark.parametrize("image", [
    np.zeros((1, 1, 3), np.uint8),
    np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), np.uint8),
    np.zeros((900, 300, 3), np.uint8),                 # portrait
    np.full((37, 53), 200, np.uint8),                  # grayscale
    np.full((40, 30, 4), 90, np.uint8),                # BGRA
], ids=["1x1", "4000x3000", "portrait", "gray", "bgra"])
def test_odd_images_become_bgr_frames(tmp_path, image):
    write_image(tmp_path / "img.png", image)
    frames, _ = frames_of(open_source(str(tmp_path / "img.png")))
    (frame,) = frames
    assert frame.image.shape == (*image.shape[:2], 3) and frame.source == "img.png" and frame.index == 0


def test_folder_and_glob_sorted_and_bad_file_skipped(tmp_path, data_dir, capsys):
    for name in ("b.jpg", "a.jpg"):
        shutil.copy(data_dir / "zidane.jpg", tmp_path / name)
    (tmp_path / "c.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    frames, src = frames_of(open_source(str(tmp_path)))
    assert [f.source for f in frames] == ["a.jpg", "b.jpg"] and src.frames_lost == 1
    assert "c.jpg" in capsys.readouterr().err
    frames, _ = frames_of(open_source(str(tmp_path / "?.jpg")))
    assert len(frames) == 2
    with pytest.raises(SourceError, match="no images"):
        frames_of(ImageSource(str(tmp_path / "*.png")))


def test_folder_is_read_recursively_as_batch_reads_it(tmp_path, data_dir):
    """Was: a folder source silently skipped its subfolders (``rtdetect batch``'s folder is recursive)."""
    for name in ("top.jpg", "day1/a.jpg", "day1/night/b.png", ".hidden/c.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / "zidane.jpg", tmp_path / name)
    (tmp_path / "day2.jpg").mkdir()  # a folder named like an image is no image
    frames, _ = frames_of(open_source(str(tmp_path)))
    assert [f.source for f in frames] == [os.path.join("day1", "a.jpg"), os.path.join("day1", "night", "b.png"),
                                          "top.jpg"]
    frames, _ = frames_of(open_source(str(tmp_path / "**" / "*.png")))  # a glob's ** is recursive too
    assert [f.source for f in frames] == [os.path.join("day1", "night", "b.png")]


def test_single_undecodable_image_is_an_error(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(SourceError, match="not an image"):
        frames_of(open_source(str(tmp_path / "x.jpg")))


def test_latest_frame_keeps_only_the_newest():
    box = LatestFrame()
    for seq in range(5):
        box.put(seq, np.full((1, 1, 3), seq, np.uint8), float(seq))
    seq, image, arrived = box.get()
    assert seq == 4 and arrived == 4.0 and box.dropped == 4
    results = []
    reader = threading.Thread(target=lambda: results.append(box.get()))
    reader.start()
    box.close()
    reader.join(2)
    assert results == [None]


def test_source_kinds():
    assert isinstance(open_source("webcam"), CameraSource) and open_source("2").index == 2
    assert isinstance(open_source("rtsp://host/x"), StreamSource) and isinstance(open_source("http://h/v.mjpg"), StreamSource)
    assert isinstance(open_source("movie.mkv"), VideoFileSource) and isinstance(open_source("x/*.jpg"), ImageSource)
