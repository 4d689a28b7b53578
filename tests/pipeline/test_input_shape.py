"""Aspect-following network input: the shape for each kind of source, the CLI exporting the model at that
shape (cached per shape), fixed-shape ONNX keeping theirs, and the same detections as a square input."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from rtdetect.capture import ImageSource, VideoFileSource
from rtdetect.errors import UsageError
from rtdetect.input_shape import aspect_input_hw, fixed_shape_note, network_input_hw
from rtdetect.types import Frame


@pytest.mark.parametrize("frame_hw, expected", [
    ((576, 768), (480, 640)),    # 4:3 (vtest.avi)
    ((1080, 1920), (384, 640)),  # 16:9: 360 rounded up to the stride
    ((720, 1280), (384, 640)),   # 16:9 (zidane.jpg)
    ((1920, 1080), (640, 384)),  # portrait 9:16
    ((1080, 810), (640, 480)),   # portrait 3:4 (bus.jpg)
    ((640, 640), (640, 640)),
    ((100, 3000), (32, 640)),    # a strip never goes below one stride
])
def test_aspect_shapes(frame_hw, expected):
    assert aspect_input_hw(frame_hw, 640) == expected


def test_requested_sizes():
    assert network_input_hw(None, (576, 768)) == (480, 640)  # default: long side 640
    assert network_input_hw(320, (576, 768)) == (256, 320)
    assert network_input_hw((640, 640), (576, 768)) == (640, 640)  # --imgsz 640 640 forces square
    assert network_input_hw((320, 640), None) == (320, 640)
    assert network_input_hw(None, None) == (640, 640)  # frame size unknown or varying: square
    for bad in (650, 0, (640, 100)):
        with pytest.raises(UsageError, match="multiple of 32"):
            network_input_hw(bad, (576, 768))


def test_fixed_shape_note():
    assert fixed_shape_note("m.onnx", None, (640, 640)) is None  # nothing asked: nothing to say
    assert fixed_shape_note("m.onnx", 640, (640, 640)) is None  # the long side asked for
    assert fixed_shape_note("m.onnx", (640, 640), (640, 640)) is None
    note = fixed_shape_note("m.onnx", 320, (640, 640))
    assert note.startswith("rtdetect: note: m.onnx has a fixed 640x640 input; --imgsz 320 is ignored")
    assert "--imgsz 480 640 is ignored" in fixed_shape_note("m.onnx", (480, 640), (640, 640))


def test_sources_know_their_frame_size_once_open(data_dir, tmp_path):
    with VideoFileSource(str(data_dir / "vtest_3s.mp4")) as video:
        assert video.frame_hw == (576, 768)
    with ImageSource(str(data_dir / "bus.jpg")) as image:
        assert image.frame_hw == (1080, 810)
        assert [f.image.shape for f in image] == [(1080, 810, 3)]  # decoded once, still yielded
    with ImageSource(str(data_dir / "zidane.jpg")) as image:
        assert network_input_hw(None, image.frame_hw) == (384, 640)
    # Several images may differ in size: no single frame size, so the run is square.
    with ImageSource(str(data_dir / "*.jpg")) as images:
        assert images.frame_hw is None


# --- the command: which shape the model is exported at, and what a fixed-shape ONNX does -------------

def run_cli(cache, *args):
    env = {**os.environ, "RTDETECT_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "rtdetect.cli", "--no-progress", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_cli_exports_a_pt_model_at_the_source_aspect(fall_detection_dir, data_dir, tmp_path):
    result = run_cli(tmp_path, "--source", data_dir / "vtest_3s.mp4", "--model", fall_detection_dir / "best.pt",
                     "--max-frames", "2", "--backend", "onnxruntime")  # the export's shape is the subject, not auto
    assert result.returncode == 0, result.stderr
    assert "note" not in result.stderr
    converted = [name for name in os.listdir(tmp_path) if name.endswith(".onnx")]
    assert len(converted) == 1 and converted[0].startswith("best-480x640-"), converted  # cached per shape


def test_fixed_shape_onnx_keeps_its_shape_and_says_so_once(fall_detection_dir, data_dir, tmp_path):
    # Ultralytics' export, fixed at 640x640: a 256x320 input would make ONNX Runtime fail, so a clean run
    # with detections shows it ran at its own shape.
    out = tmp_path / "det.jsonl"
    result = run_cli(tmp_path, "--source", data_dir / "vtest_3s.mp4", "--model", fall_detection_dir / "best_fp16.onnx",
                     "--max-frames", "3", "--json", out, "--imgsz", "320", "--backend", "onnxruntime")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("rtdetect: note: ") == 1
    assert "best_fp16.onnx has a fixed 640x640 input; --imgsz 320 is ignored" in result.stderr
    assert len(out.read_text().splitlines()) == 3 and '"label":"Normal"' in out.read_text()


# --- the shape each source gets, on a dynamic-shape export (no conversion per shape) -------------------

@pytest.mark.parametrize("source, imgsz, expected", [
    ("vtest_3s.mp4", None, (480, 640)),        # 4:3
    ("zidane.jpg", None, (384, 640)),          # 16:9
    ("bus.jpg", None, (640, 480)),             # portrait
    ("vtest_3s.mp4", 320, (256, 320)),
    ("vtest_3s.mp4", (640, 640), (640, 640)),  # forced square
    ("*.jpg", None, (640, 640)),               # images of different sizes: square
])
def test_engine_shape_for_each_source(fall_dynamic_onnx, data_dir, source, imgsz, expected, capsys):
    from rtdetect.api import open_engine
    from rtdetect.capture import open_source

    with open_source(str(data_dir / source)) as src:
        engine = open_engine(fall_dynamic_onnx, imgsz, src.frame_hw, backend="onnxruntime")
    with engine:
        assert engine.input_hw == expected
    assert capsys.readouterr().err == ""  # a dynamic model takes any shape: nothing to note


# --- detections at the rectangular shape agree with the square shape on real frames -----------------

def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def matched(ref, other, threshold: float = 0.5) -> int:
    """Greedy one-to-one matches of the same class with IoU >= threshold."""
    if len(ref) == 0 or len(other) == 0:
        return 0
    iou = box_iou(ref.xyxy, other.xyxy)
    iou[ref.class_ids[:, None] != other.class_ids[None, :]] = 0
    count = 0
    while iou.max() >= threshold:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        iou[i, :], iou[:, j] = 0, 0
        count += 1
    return count


def detections_at(model_path, imgsz, frames):
    from rtdetect.inference import create_engine
    from rtdetect.run import CpuModel, Runner
    from rtdetect.postprocess import PostprocessConfig

    with create_engine(model_path, backend="onnxruntime", imgsz=imgsz) as engine:
        assert engine.input_hw == imgsz
        pipeline = CpuModel(engine, PostprocessConfig(conf=0.25, iou=0.45))
        return [pipeline.process(Frame(image, i, None, "vtest")).detections for i, image in enumerate(frames)]


def test_rectangular_detections_agree_with_square(fall_dynamic_onnx, data_dir):
    capture = cv2.VideoCapture(str(data_dir / "vtest_3s.mp4"))
    frames = []
    while (image := capture.read()[1]) is not None:
        frames.append(image)
    capture.release()
    frames = frames[::6]  # ~15 frames over the 3 s
    square = detections_at(fall_dynamic_onnx, (640, 640), frames)
    rect = detections_at(fall_dynamic_onnx, (480, 640), frames)
    n_square, n_rect = sum(map(len, square)), sum(map(len, rect))
    f1 = 2 * sum(matched(s, r) for s, r in zip(square, rect)) / (n_square + n_rect)
    assert n_square >= 25 and f1 >= 0.95, (n_square, n_rect, f1)
