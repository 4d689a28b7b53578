import json
import os

import av
import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from pycocotools import mask as coco_mask

from rtdetect.errors import OutputError
from rtdetect.sinks import JsonlSink, VideoSink
from rtdetect.rle import decode_mask, encode_crop, encode_mask
from rtdetect.types import BoxMasks, Detections, Frame


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), density=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_rle_matches_pycocotools(h, w, density, seed):
    mask = np.random.default_rng(seed).random((h, w)) < density
    ours = encode_mask(mask)
    theirs = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert ours["counts"] == theirs["counts"].decode() and ours["size"] == list(theirs["size"])
    np.testing.assert_array_equal(decode_mask(ours), mask)


def coco_counts(full: np.ndarray) -> str:
    return coco_mask.encode(np.asfortranarray(full.astype(np.uint8)))["counts"].decode()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(hw=st.tuples(st.integers(1, 40), st.integers(1, 40)), corner=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       size=st.tuples(st.floats(0, 1), st.floats(0, 1)), density=st.sampled_from([0.0, 0.3, 0.8, 1.0]),
       seed=st.integers(0, 2**31))
def test_rle_of_a_crop_is_the_rle_of_its_frame(hw, corner, size, density, seed):
    """The crop's runs mapped into the frame, never building it, equal pycocotools on the full frame;
    whole-height crops (runs joining across columns), edge-touching, empty and full crops included."""
    h, w = hw
    y0, x0 = int(corner[1] * h), int(corner[0] * w)
    ch, cw = round(size[1] * (h - y0)), round(size[0] * (w - x0))
    crop = np.random.default_rng(seed).random((ch, cw)) < density
    full = np.zeros((h, w), bool)
    full[y0:y0 + ch, x0:x0 + cw] = crop
    ours = encode_crop(crop, (x0, y0), (h, w))
    assert ours == {"size": [h, w], "counts": coco_counts(full)}
    np.testing.assert_array_equal(decode_mask(ours), full)


def test_rle_joins_runs_across_columns_of_a_full_height_crop():
    crop = np.zeros((4, 3), bool)
    crop[2:, 0] = crop[:, 1] = crop[:1, 2] = True  # one run from column 0's bottom to column 2's top
    assert encode_crop(crop, (2, 0), (4, 6))["counts"] == coco_counts(np.pad(crop, ((0, 0), (2, 1))))
    assert encode_crop(crop, (2, 0), (4, 6))["counts"] == encode_mask(np.pad(crop, ((0, 0), (2, 1))))["counts"]


def test_rle_of_large_frames_matches_pycocotools():
    """4K frames: counts and their differences need several 5-bit groups, negative ones included."""
    rng = np.random.default_rng(1)
    for y0, x0, ch, cw in [(0, 0, 2160, 3840), (2000, 3700, 160, 140), (5, 1000, 900, 2)]:
        crop = rng.random((ch, cw)) < 0.5
        crop[:, : cw // 2] = True
        full = np.zeros((2160, 3840), bool)
        full[y0:y0 + ch, x0:x0 + cw] = crop
        assert encode_crop(crop, (x0, y0), full.shape)["counts"] == coco_counts(full)


def frame(i, h=48, w=64):
    return Frame(np.full((h, w, 3), i * 20 % 255, np.uint8), i, i / 10, "clip.mp4")


def dets(n, h=48, w=64, masks=True):
    m = np.zeros((n, h, w), bool)
    m[:, 5:10, 5:20] = True
    return Detections(np.tile([[1, 2, 30, 40]], (n, 1)), np.linspace(0.9, 0.5, n), np.arange(n),
                      BoxMasks.from_full(m) if masks else None)


def test_jsonl_schema_and_atomic_rename(tmp_path):
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(str(path), ["person", "bicycle", "car"])
    sink.write(frame(0), dets(2), None)
    assert not path.exists()  # only the hidden partial exists while running
    sink.write(frame(1), Detections.empty((48, 64)), None)
    sink.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(l["source"], l["frame"], l["pts"]) for l in lines] == [("clip.mp4", 0, 0.0), ("clip.mp4", 1, 0.1)]
    first = lines[0]["detections"][1]
    assert first["box"] == [1, 2, 30, 40] and first["label"] == "bicycle" and first["class_id"] == 1
    assert decode_mask(first["mask"]).sum() == 5 * 15
    assert lines[1]["detections"] == []
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_detection_only_records_have_no_mask(tmp_path):
    sink = JsonlSink(str(tmp_path / "d.jsonl"), ["a", "b"])
    sink.write(frame(0), dets(1, masks=False), None)
    sink.close()
    assert "mask" not in json.loads((tmp_path / "d.jsonl").read_text())["detections"][0]


def test_nothing_written_when_no_frame_was_processed(tmp_path):
    JsonlSink(str(tmp_path / "x.jsonl"), []).close()
    VideoSink(str(tmp_path / "x.mp4"), 10).close()
    assert os.listdir(tmp_path) == []


def mean_abs_diff(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_video_sink_writes_playable_video_in_its_colours(tmp_path, data_dir):
    """Real colour photos, so that the decoded video shows the channel order (grey frames passed an RGB/BGR swap)."""
    photos = [cv2.resize(cv2.imread(str(data_dir / f"{name}.jpg")), (160, 120), interpolation=cv2.INTER_AREA)
              for name in ("bus", "zidane", "dog")]
    path = tmp_path / "v.mp4"
    sink = VideoSink(str(path), 12.5)
    for i in range(7):
        sink.write(Frame(photos[i % 3], i, i / 12.5, "clip.mp4"), None, photos[i % 3])
    sink.write(frame(7, 30, 30), None, frame(7, 30, 30).image)  # another size: resized to the first
    sink.close()
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while (image := cap.read()[1]) is not None:
        decoded.append(image)
    assert len(decoded) == 8 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.5)
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 120)
    for i, image in enumerate(decoded[:7]):
        photo = photos[i % 3]
        # the codec's loss (about 5 levels) is well under what swapping red and blue changes (about 17)
        assert mean_abs_diff(image, photo) < mean_abs_diff(photo, photo[..., ::-1]) / 2, i


def probe_video(path) -> tuple[str, int, tuple[int, int], list[np.ndarray]]:
    """The codec, announced frame count, (width, height) and every frame decoded (BGR) of the video at ``path``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        announced = (stream.codec_context.name, stream.frames, (stream.width, stream.height))
        decoded = [frame.to_ndarray(format="bgr24") for frame in container.decode(stream)]
    return (*announced, decoded)


@pytest.mark.parametrize("name", ["out.mp4", "out.mov"])
def test_mp4_and_mov_are_written_as_h264_that_plays_back(tmp_path, data_dir, name):
    """Was: MPEG-4 Part 2 (mp4v), which browsers do not play, although PyAV encodes H.264 here."""
    photos = [cv2.resize(cv2.imread(str(data_dir / f"{n}.jpg")), (202, 150), interpolation=cv2.INTER_AREA)
              for n in ("bus", "zidane", "dog")]
    sink = VideoSink(str(tmp_path / name), 25.0)
    for i in range(12):
        sink.write(Frame(photos[i % 3], i, i / 25, "clip.mp4"), None, photos[i % 3])
    sink.close()
    assert sink.codec == "h264"
    codec, announced, size, decoded = probe_video(tmp_path / name)
    assert (codec, announced, size, len(decoded)) == ("h264", 12, (202, 150), 12)
    for i, image in enumerate(decoded):
        assert mean_abs_diff(image, photos[i % 3]) < mean_abs_diff(photos[i % 3], photos[(i + 1) % 3]) / 4, i
    capture = cv2.VideoCapture(str(tmp_path / name))  # plays in OpenCV too, at the rate asked for
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0) and capture.read()[0]
    capture.release()
    assert os.listdir(tmp_path) == [name]


def test_mp4_falls_back_to_mp4v_without_an_h264_encoder(tmp_path, monkeypatch):
    from rtdetect.sinks import video

    monkeypatch.setattr(video, "h264_available", lambda: False)
    sink = VideoSink(str(tmp_path / "out.mp4"), 10)
    for i in range(3):
        sink.write(frame(i, 48, 64), None, frame(i, 48, 64).image)
    sink.close()
    codec, announced, size, decoded = probe_video(tmp_path / "out.mp4")
    assert (sink.codec, codec, announced, size, len(decoded)) == ("mp4v", "mpeg4", 3, (64, 48), 3)


@pytest.mark.parametrize("cls, name", [(JsonlSink, "out.jsonl"), (VideoSink, "out.mp4")])
def test_failed_run_keeps_nothing_without_keep_on_failure(tmp_path, cls, name):
    """``keep_on_failure`` is the output file's rule (sinks.output.OutputFile), the same for every sink."""
    sink = cls(str(tmp_path / name), ["a", "b"] if cls is JsonlSink else 10, keep_on_failure=False)
    sink.write(frame(0, 48, 64), dets(1, masks=False), frame(0, 48, 64).image)
    sink.close(failed=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("cls, name", [(JsonlSink, "out.jsonl"), (VideoSink, "out.mp4")])
def test_missing_output_directory_is_a_clear_error(tmp_path, cls, name):
    with pytest.raises(OutputError, match="directory does not exist"):
        cls(str(tmp_path / "missing" / name), [] if cls is JsonlSink else 10)


def test_video_extension_checked(tmp_path):
    with pytest.raises(OutputError, match="must end with"):
        VideoSink(str(tmp_path / "out.gif"), 10)


def test_show_without_a_display_is_a_clear_error(monkeypatch):
    from rtdetect.sinks import DisplaySink

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(OutputError, match="needs a display"):
        DisplaySink()


def test_rle_of_many_masks_in_one_pass_equals_each_alone():
    """encode_box_masks builds every string of a frame at once; each equals pycocotools' on its own mask."""
    from rtdetect.rle import encode_box_masks

    rng = np.random.default_rng(7)
    full = rng.random((7, 33, 21)) < 0.4
    full[2] = False                      # an empty mask: counts [H * W]
    full[4] = True                       # a full one: counts [0, H * W]
    full[5, :, :4] = full[5, :, 9:] = False
    encoded = encode_box_masks(BoxMasks.from_full(full))
    assert [e["counts"] for e in encoded] == [coco_counts(m) for m in full]
    assert all(e["size"] == [33, 21] for e in encoded) and encode_box_masks(BoxMasks.empty((3, 4))) == []


def test_live_video_encodes_each_frame_as_it_comes(tmp_path):
    """A live source's video (its rate measured: fps None) gets an encoder without lookahead: the first frame
    comes out as a packet at once; a file's encoder holds frames back (x264's lookahead), which on a live run
    made the thread that writes the sinks wait in bursts (write p99 64 ms against 17 ms p50)."""
    from rtdetect.sinks.video import H264Writer

    frame = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    packets = {}
    for live in (False, True):
        writer = H264Writer(str(tmp_path / f"live-{live}.mp4"), 10.0, (96, 64), live=live)
        packets[live] = len(writer._stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        writer.release()
    assert packets == {False: 0, True: 1}
