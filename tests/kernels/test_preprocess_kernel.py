"""Letterbox kernel vs rtdetect.preprocess (cv2 INTER_LINEAR + pad 114 + RGB + /255, NCHW).

cv2 blends in 11-bit fixed point and the kernel in float32, both rounding to whole grey levels, so values
may differ by one level: |diff| <= 1/255 (+ float rounding; + half an fp16 step for float16 output).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtdetect.gpu import GpuPreprocess
from rtdetect.preprocess import Preprocessor

TOLERANCE = {np.float32: 1 / 255 + 1e-6, np.float16: 1 / 255 + 1e-3}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def pitched(image: np.ndarray, extra: int) -> np.ndarray:
    """The same pixels with rows ``3 * W + extra`` bytes apart (extra may be odd)."""
    h, w, _ = image.shape
    pitch = 3 * w + extra
    store = np.full(h * pitch + 8, 77, np.uint8)
    view = np.lib.stride_tricks.as_strided(store, shape=(h, w, 3), strides=(pitch, 3, 1))
    view[...] = image
    return view


def check(runtime, image, input_hw, dtype=np.float32, *, extra_pitch=0):
    frame = pitched(image, extra_pitch) if extra_pitch else image
    with GpuPreprocess(runtime, input_hw, dtype=dtype) as stage:
        got, box = stage.run_host(frame)
    want, want_box = Preprocessor(input_hw, dtype=dtype)(np.ascontiguousarray(image))
    assert box == want_box
    assert got.shape == want.shape and got.dtype == want.dtype
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert diff.max() <= TOLERANCE[dtype], f"max diff {diff.max() * 255:.4f} grey levels"
    return got, want


@SETTINGS
@given(height=st.integers(1, 160), width=st.integers(1, 160), input_hw=st.sampled_from([(64, 64), (48, 80), (37, 53)]),
       dtype=st.sampled_from([np.float32, np.float16]), extra_pitch=st.sampled_from([0, 1, 5, 64]),
       seed=st.integers(0, 2**32 - 1))
def test_random_frames_match_the_reference(runtime, height, width, input_hw, dtype, extra_pitch, seed):
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    check(runtime, image, input_hw, dtype, extra_pitch=extra_pitch)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_one_pixel_frame(runtime, dtype):
    got, _ = check(runtime, np.array([[[10, 20, 30]]], np.uint8), (64, 64), dtype)
    assert np.allclose(got[0, :, 0, 0], np.array([30, 20, 10]) / 255, atol=1e-3)  # RGB order


def test_4k_frame_is_shrunk_by_plain_bilinear(runtime):
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    check(runtime, image, (640, 640))


def test_exact_halving_and_same_size_copy(runtime):
    rng = np.random.default_rng(5)
    got, want = check(runtime, rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), (64, 64))
    got, want = check(runtime, rng.integers(0, 256, (40, 64, 3), dtype=np.uint8), (64, 64), extra_pitch=3)
    assert np.array_equal(got, want)  # scale 1: the kernel copies pixels exactly, like the reference


def test_smooth_image_agrees_almost_everywhere(runtime):
    # On a smooth picture rounding differences are rare: a few percent of values move one level.
    y, x = np.mgrid[0:300, 0:500]
    image = np.stack([(x * 0.5) % 256, (y * 0.7) % 256, ((x + y) * 0.3) % 256], axis=-1).astype(np.uint8)
    got, want = check(runtime, image, (320, 320), extra_pitch=7)
    assert np.mean(got != want) < 0.05


def test_real_photo(runtime, data_dir):
    import cv2

    image = cv2.imread(str(data_dir / "bus.jpg"))  # 1080 x 810, shrunk by 0.59
    got, want = check(runtime, image, (640, 640))
    # Detailed photo: ~9% of values sit one level apart (cv2's fixed point vs float); none more.
    assert np.abs(got - want).mean() * 255 < 0.15


def test_wide_launch_geometry(wide_runtime):
    image = np.random.default_rng(6).integers(0, 256, (77, 131, 3), dtype=np.uint8)
    check(wide_runtime, image, (96, 96), np.float16, extra_pitch=2)


def test_input_checks(emulated_runtime):
    with pytest.raises(ValueError, match="float32 or float16"):
        GpuPreprocess(emulated_runtime, (64, 64), dtype=np.uint8)
    with GpuPreprocess(emulated_runtime, (64, 64)) as stage:
        with pytest.raises(ValueError, match="uint8 BGR"):
            stage.run_host(np.zeros((4, 4), np.uint8))
        with pytest.raises(ValueError, match="frame_pitch"):
            stage.run(1024, (4, 4), 11, 2048)
        with pytest.raises(ValueError, match="device address"):
            stage.run(0, (4, 4), 12, 2048)
