"""Calibration frames: spread over a video, an image folder or both (``capture.sampling``); letterboxed like
inference (``trial_inputs.MediaFrames``) and handed to ONNX Runtime's calibration (``TensorReader``)."""
import os

import numpy as np
import pytest

from rtdetect.capture.images import read_image
from rtdetect.errors import SourceError
from rtdetect.capture.sampling import calibration_frames, calibration_media, media_identity, media_lengths, spread_indices
from rtdetect.inference.onnx_tools.calibration import TensorReader, calibration_fingerprint
from rtdetect.trial_inputs import MediaFrames


def test_media_of_a_folder_are_its_images_and_videos(data_dir):
    media = calibration_media(data_dir)
    assert [p.name for p in media] == ["bus.jpg", "dog.jpg", "person.jpg", "vtest_3s.mp4", "zidane.jpg"]
    assert media_lengths(media) == [1, 1, 1, 30, 1]
    assert calibration_media([data_dir / "bus.jpg", data_dir / "vtest_3s.mp4"])[1].name == "vtest_3s.mp4"


def test_missing_or_empty_sources_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        calibration_media(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="no calibration images or videos"):
        calibration_media(tmp_path)


@pytest.mark.parametrize("total, count", [(34, 10), (30, 30), (5, 500), (1000, 7)])
def test_spread_indices_are_distinct_sorted_and_cover_the_range(total, count):
    picks = spread_indices(total, count)
    assert len(picks) == min(total, count) == len(set(picks)) and picks == sorted(picks)
    assert 0 <= picks[0] and picks[-1] < total
    assert picks[0] < total / min(total, count) and picks[-1] >= total - total / min(total, count)


def test_frames_are_spread_over_the_whole_folder(data_dir):
    everything = list(calibration_frames(data_dir, 1000))
    assert len(everything) == 34 and all(f.dtype == np.uint8 and f.shape[2] == 3 for f in everything)
    assert np.array_equal(everything[0], read_image(str(data_dir / "bus.jpg")))
    assert np.array_equal(everything[-1], read_image(str(data_dir / "zidane.jpg")))
    picked = list(calibration_frames(data_dir, 10))
    assert len(picked) == 10
    for frame, index in zip(picked, spread_indices(34, 10), strict=True):
        assert np.array_equal(frame, everything[index])


def test_reader_letterboxes_like_inference(data_dir):
    clip = MediaFrames(str(data_dir / "vtest_3s.mp4"))
    reader = TensorReader((clip.prepare(f, (320, 320), np.dtype(np.float32)) for f in clip.frames(3)), "images")
    batches = [reader.get_next() for _ in range(4)]
    assert batches[3] is None and reader.count == 3
    tensor = batches[0]["images"]
    assert tensor.shape == (1, 3, 320, 320) and tensor.dtype == np.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    assert np.allclose(tensor[0, :, 0, 0], 114 / 255)  # 768x576 → letterbox pads top and bottom


def test_fingerprint_changes_with_count_size_recipe_and_content(tmp_path, data_dir):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes((data_dir / "vtest_3s.mp4").read_bytes())
    base = calibration_fingerprint(media_identity(clip), 100, (640, 640), "r1")
    others = {calibration_fingerprint(media_identity(clip), 200, (640, 640), "r1"),
              calibration_fingerprint(media_identity(clip), 100, (320, 320), "r1"),
              calibration_fingerprint(media_identity(clip), 100, (640, 640), "r2")}
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    others.add(calibration_fingerprint(media_identity(clip), 100, (640, 640), "r1"))
    assert base not in others and len(others) == 4
