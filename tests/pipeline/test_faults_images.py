"""Hostile inputs: images whose header claims a huge picture are refused before decoding (skipped and named
in a folder, the rest processed), and an ONNX model declaring an absurd input size is refused."""
import json

import onnx
import pytest
from onnx import TensorProto, helper

from rtdetect.capture.images import MAX_IMAGE_PIXELS, read_image
from rtdetect.errors import ModelError, SourceError
from rtdetect.inference import create_engine

from .cli_helpers import run_cli
from .helpers import leftovers


def claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header (SOF0/SOF2) patched to claim width x height; the data stays small."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at >= 0:
            sof = at + 5  # marker (2), segment length (2), sample precision (1), then height and width
            return jpeg[:sof] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[sof + 4:]
    raise ValueError("no SOF0/SOF2 frame header")


def test_image_claiming_too_many_pixels_is_refused_before_decoding(data_dir, tmp_path):
    """Was: decoded regardless (a 30000x30000 claim took 5.7 GB of RSS)."""
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(claiming((data_dir / "bus.jpg").read_bytes(), 20000, 20000))
    assert 20000 * 20000 > MAX_IMAGE_PIXELS
    with pytest.raises(SourceError, match=r"huge.jpg is 20000x20000 \(400 megapixels\), above the 200 megapixel"):
        read_image(str(huge))
    assert read_image(str(data_dir / "bus.jpg")).shape == (1080, 810, 3)


def test_folder_run_skips_and_names_hostile_images(fall_detection_dir, data_dir, tmp_path):
    """Was: the 60000x60000 claim raised a cv2.error traceback that ended the whole folder run, no JSONL."""
    folder = tmp_path / "photos"
    folder.mkdir()
    bus = (data_dir / "bus.jpg").read_bytes()
    (folder / "a.jpg").write_bytes(bus)
    (folder / "b_huge.jpg").write_bytes(claiming(bus, 20000, 20000))
    (folder / "c_bomb.jpg").write_bytes(claiming(bus, 60000, 60000))
    (folder / "d.jpg").write_bytes((data_dir / "zidane.jpg").read_bytes())
    out = tmp_path / "det.jsonl"
    result = run_cli("--source", folder, "--model", fall_detection_dir / "best_fp16.onnx", "--json", out,
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["source"] for line in out.read_text().splitlines()] == ["a.jpg", "d.jpg"]
    skipped = [line for line in result.stderr.splitlines() if line.startswith("rtdetect: skipping")]
    assert len(skipped) == 2 and "b_huge.jpg is 20000x20000" in skipped[0] and "c_bomb.jpg is 60000x60000" in skipped[1]
    assert "Traceback" not in result.stderr and leftovers(tmp_path) == []


def test_onnx_with_an_absurd_input_is_refused(tmp_path):
    """Was: accepted; running it took 1.85 GB."""
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 10000, 10000])
    pooled = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 3, 1, 1])
    graph = helper.make_graph([helper.make_node("GlobalAveragePool", ["images"], ["pooled"])], "absurd",
                              [images], [pooled])
    path = tmp_path / "absurd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelError, match="10000x10000 is larger than 4096x4096"):
        create_engine(str(path), backend="onnxruntime")
