"""Media as users have it: phone photos stored sideways with an EXIF orientation, variable-frame-rate
videos, and file names that are not UTF-8 (or not ASCII under a C locale)."""
import json
import os
import shutil
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from rtdetect.capture.images import read_image

from .cli_helpers import run_cli

ORIENTATION = 0x0112  # the EXIF tag
# orientation -> the Pillow transpose that stores an upright picture so that the orientation shows it upright
# (the inverse of what ImageOps.exif_transpose applies for it)
STORE_SIDEWAYS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                  4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
                  7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


def store_with_orientation(upright: Image.Image, orientation: int, path, **save) -> None:
    """``upright`` saved as a camera stores it: the pixels turned, the EXIF orientation saying how to show them."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    upright.transpose(STORE_SIDEWAYS[orientation]).save(path, exif=exif, **save)


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("orientation", sorted(STORE_SIDEWAYS))
def test_image_is_upright_by_its_exif_orientation_as_pillow_shows_it(orientation, data_dir, tmp_path):
    """Was: decoded as stored (IMREAD_UNCHANGED ignores EXIF): a phone photo came out sideways."""
    upright = Image.open(data_dir / "bus.jpg").convert("RGB")
    stored = tmp_path / "photo.png"  # lossless: the upright pixels must come back exactly
    store_with_orientation(upright, orientation, stored)
    assert Image.open(stored).size != upright.size or orientation in (2, 3, 4)  # really stored turned
    reference = np.asarray(ImageOps.exif_transpose(Image.open(stored)).convert("RGB"))[..., ::-1]  # BGR
    image = read_image(str(stored))
    assert image.shape == reference.shape == (1080, 810, 3) and np.array_equal(image, reference)


def sideways_phone_photo(data_dir, folder):
    """(bus.jpg stored turned with EXIF orientation 6 as a JPEG, as phones write it; the same picture upright,
    as a lossless PNG of the very pixels OpenCV decodes from that JPEG, turned by hand)."""
    phone = folder / "phone.jpg"
    store_with_orientation(Image.open(data_dir / "bus.jpg").convert("RGB"), 6, phone, quality=95)
    stored = cv2.imread(str(phone), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert stored.shape == (810, 1080, 3)  # the file holds the picture on its side
    upright = folder / "upright.png"
    assert cv2.imwrite(str(upright), cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE))  # what orientation 6 means
    return phone, upright


def test_sideways_phone_photo_is_detected_and_annotated_upright(small_detector, data_dir, tmp_path):
    """Was: boxes in the stored (sideways) pixels, and the annotated copy sideways."""
    phone, upright = sideways_phone_photo(data_dir, tmp_path)
    for name in ("phone", "upright"):
        result = run_cli("--source", tmp_path / f"{name}{'.jpg' if name == 'phone' else '.png'}", "--model",
                         small_detector, "--json", tmp_path / f"{name}.jsonl", "--save", tmp_path / f"{name}-out.png",
                         "--no-progress")
        assert result.returncode == 0, result.stderr
    (phone_record,), (upright_record,) = records(tmp_path / "phone.jsonl"), records(tmp_path / "upright.jsonl")
    assert upright_record["detections"] and phone_record["detections"] == upright_record["detections"]
    annotated, expected = cv2.imread(str(tmp_path / "phone-out.png")), cv2.imread(str(tmp_path / "upright-out.png"))
    assert annotated.shape == (1080, 810, 3) and np.array_equal(annotated, expected)


def write_vfr_video(frames, times_ms, path):
    """``frames`` (RGB arrays) encoded with H.264 at the given irregular presentation times (ms)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for image, ms in zip(frames, times_ms):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def container_times(path):
    """The presentation time (s) of each frame, from the stream's start, as FFmpeg reads the container."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = float((stream.start_time or 0) * stream.time_base)
        return [frame.time - start for frame in container.decode(stream)]


@pytest.mark.parametrize("extension", ["mp4", "mkv"])
def test_variable_frame_rate_pts_are_the_containers_times(extension, small_detector, data_dir, tmp_path):
    """Was: pts = frame index / average fps (0.329 s for the frame at 0.033 s)."""
    with av.open(str(data_dir / "vtest_3s.mp4")) as clip:
        frames = [frame.to_ndarray(format="rgb24") for _, frame in zip(range(8), clip.decode(video=0))]
    times_ms = [0, 33, 100, 329, 400, 1000, 1033, 2500]
    video = tmp_path / f"vfr.{extension}"
    write_vfr_video(frames, times_ms, video)
    expected = container_times(video)
    assert expected == pytest.approx([ms / 1000 for ms in times_ms])  # the file holds the irregular times
    out = tmp_path / "det.jsonl"
    result = run_cli("--source", video, "--model", small_detector, "--json", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    lines = records(out)
    assert [line["frame"] for line in lines] == list(range(8))
    assert [line["pts"] for line in lines] == pytest.approx(expected, abs=1e-9)
    # A Matroska file states no frame count; OpenCV's estimate (duration x average rate: 76 here) is no
    # count to hold the frames decoded against: no frame was lost.
    assert "could not be decoded" not in result.stderr, result.stderr


@pytest.mark.parametrize("name", [os.fsdecode(b"clip-\xff.mp4"), "caf\u00e9.mp4"], ids=["not-utf8", "non-ascii"])
def test_any_file_name_runs_under_a_c_locale(name, small_detector, data_dir, tmp_path):
    """Was: SIGSEGV (rc 139) in OpenCV, which encodes a path as UTF-8: a name that is not valid UTF-8, or
    any non-ASCII name under LC_ALL=C (Python then decodes its bytes to surrogates)."""
    plain = tmp_path / "clip.mp4"
    shutil.copy(data_dir / "vtest_3s.mp4", plain)
    named = tmp_path / name
    shutil.copy(plain, named)
    saved = tmp_path / ("annot\u00e9-" + name)
    c_locale = {"LC_ALL": "C", "PYTHONUTF8": "0"}
    result = run_cli("--source", named, "--model", small_detector, "--json", tmp_path / "named.jsonl",
                     "--save", saved, "--no-progress", env=c_locale)
    assert result.returncode == 0, result.stderr
    result = run_cli("--source", plain, "--model", small_detector, "--json", tmp_path / "plain.jsonl", "--no-progress")
    assert result.returncode == 0, result.stderr
    got, want = records(tmp_path / "named.jsonl"), records(tmp_path / "plain.jsonl")
    assert len(got) == 30 and {os.fsencode(r.pop("source")) for r in got} == {os.fsencode(name)}
    assert got == [{k: v for k, v in r.items() if k != "source"} for r in want]
    capture = cv2.VideoCapture(os.fsencode(saved))  # the annotated video, also under a name OpenCV needs as bytes
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 30 and capture.read()[0]
    capture.release()
