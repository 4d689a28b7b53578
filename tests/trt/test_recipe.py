"""The precision recipe for TensorRT 10.x and 11.x (pure function, no TensorRT needed)."""
import pytest

from rtdetect.errors import ModelError
from rtdetect.inference.tensorrt.recipe import ONNX_FP16, ONNX_QDQ_INT8, ONNX_SOURCE, precision_recipe, trt_major_version


@pytest.mark.parametrize("version", ["10.0.1.6", "10.13.3.9"])
def test_trt10_uses_builder_flags_on_a_weakly_typed_network(version):
    fp32, fp16, int8 = (precision_recipe(version, p) for p in ("fp32", "fp16", "int8"))
    assert (fp32.onnx_variant, fp32.builder_flags, fp32.strongly_typed) == (ONNX_SOURCE, (), False)
    assert fp32.cleared_flags == ("TF32",)
    assert (fp16.onnx_variant, fp16.builder_flags, fp16.strongly_typed) == (ONNX_SOURCE, ("FP16",), False)
    assert (int8.onnx_variant, int8.builder_flags, int8.strongly_typed) == (ONNX_QDQ_INT8, ("INT8", "FP16"), False)
    assert int8.needs_calibration and not fp16.needs_calibration and not fp32.needs_calibration
    assert {p.trt_major for p in (fp32, fp16, int8)} == {10}


@pytest.mark.parametrize("version", ["11.0.0.1", "11.4.0.106", "12.1.0"])
def test_trt11_has_no_precision_flags_and_puts_precision_in_the_onnx(version):
    fp32, fp16, int8 = (precision_recipe(version, p) for p in ("fp32", "fp16", "int8"))
    for recipe in (fp32, fp16, int8):
        assert recipe.strongly_typed
        assert not {"FP16", "INT8"} & set(recipe.builder_flags)  # removed in TensorRT 11
    assert fp32.onnx_variant == ONNX_SOURCE and fp32.cleared_flags == ("TF32",)
    assert fp16.onnx_variant == ONNX_FP16 and fp16.builder_flags == ()
    assert int8.onnx_variant == ONNX_QDQ_INT8 and int8.builder_flags == () and int8.needs_calibration


def test_describe_names_the_choices():
    text = precision_recipe("10.13.3.9", "int8").describe()
    assert "int8-qdq" in text and "INT8+FP16" in text and "weakly typed" in text
    assert "strongly typed" in precision_recipe("11.4.0.106", "fp16").describe()


@pytest.mark.parametrize("bad", ["8.6.1", "9.3.0", "garbage", ""])
def test_old_or_unreadable_versions_are_refused(bad):
    with pytest.raises(ModelError):
        trt_major_version(bad)


def test_unknown_precision_is_refused():
    with pytest.raises(ModelError, match="fp32, fp16, int8"):
        precision_recipe("10.13.3.9", "bf16")
