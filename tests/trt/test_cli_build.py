"""``rtdetect build``: option errors come first and are one line; so is the missing-extra error (``no_gpu``:
only where TensorRT cannot run)."""
import pytest

from rtdetect.cli import RUNNERS, main
from rtdetect.errors import ModelError
from rtdetect.inference.tensorrt.models import onnx_for_build


def run(argv, capsys):
    status = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return status, err


def test_build_is_a_subcommand():
    assert "build" in RUNNERS


@pytest.mark.no_gpu
def test_build_without_tensorrt_says_what_to_install(tiny_onnx, capsys):
    status, err = run(["build", "--model", str(tiny_onnx), "--imgsz", "32"], capsys)
    assert status == 1 and len(err) == 1
    assert err[0].startswith("rtdetect: error:") and "pip install 'rtdetect[tensorrt-cu12]'" in err[0]


@pytest.mark.parametrize("args, message", [
    (["--precision", "int8"], "--calib-source"),
    (["--batch", "0"], "--batch must be an integer >= 1"),
    (["--precision", "int8", "--calib-source", "x", "--calib-frames", "0"], "--calib-frames must be an integer >= 1"),
])
def test_option_errors_come_before_any_tensorrt_import(tiny_onnx, capsys, args, message):
    status, err = run(["build", "--model", str(tiny_onnx), "--imgsz", "32", *args], capsys)
    assert status == 1 and len(err) == 1 and message in err[0]


def test_unknown_precision_is_refused_by_the_parser(tiny_onnx, capsys):
    # Parser errors follow the house convention: one line, exit status 1 (no usage block, no exit 2).
    status, err = run(["build", "--model", str(tiny_onnx), "--precision", "bf16"], capsys)
    assert status == 1 and len(err) == 1 and err[0].startswith("rtdetect: error: ") and "bf16" in err[0]


def test_onnx_models_are_built_from_as_they_are(tiny_onnx, tmp_path):
    assert onnx_for_build(tiny_onnx, batch=4) == tiny_onnx
    with pytest.raises(ModelError, match="not found"):
        onnx_for_build(tmp_path / "missing.onnx")
