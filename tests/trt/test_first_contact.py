"""First contact with a real TensorRT and pycuda (issue 18) and a GPU machine missing a piece (issue 10,
item 9), through fakes that fail the way the real libraries do (tests/trt/fake_trt.py, tests/fake_pycuda.py): one
clear line instead of a traceback, ``--backend auto`` falling back to the CPU with a note, the primary
context released leaving the thread's context stack as it was."""
import importlib.abc
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtdetect.errors import RtdetectError
from rtdetect.gpu.device import PrimaryContext, import_driver
from rtdetect.gpu.errors import CudaUnavailableError
from rtdetect.inference import choose_backend, create_engine
from rtdetect.trial_inputs import MediaFrames
from rtdetect.inference.tensorrt import TensorRTEngine, deps
from rtdetect.inference.tensorrt.doctor import fit_line
from rtdetect.inference.tensorrt.errors import EngineBuildError, TensorRTUnavailable
from rtdetect.inference.tensorrt.recipe import precision_recipe
from rtdetect.inference.tensorrt.toolkit import TensorRTToolkit

from .fake_trt import OUTPUT_ANCHORS, OUTPUT_CHANNELS

FAKE_CLI = Path(__file__).with_name("fake_cli.py")


def run_fake_cli(*args, cwd):
    return subprocess.run([sys.executable, str(FAKE_CLI), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def cuda13_trt_on_cuda12_driver(cuda, install_trt, monkeypatch):
    """TensorRT 11.4 built for CUDA 13 on a CUDA 12.4 driver: Builder() and Runtime() return nullptr."""
    monkeypatch.setattr(deps, "tensorrt_cuda_major", lambda: 13)
    return install_trt("11.4.0.106", cuda_ok=False)


def test_builder_nullptr_is_one_line_naming_driver_and_build(cuda13_trt_on_cuda12_driver, tiny_onnx, tmp_path):
    with pytest.raises(TensorRTUnavailable) as info:
        TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp16", cache_dir=str(tmp_path))
    text = str(info.value)
    assert "\n" not in text and "built for CUDA 13" in text and "CUDA 12.4 only" in text
    assert "rtdetect[tensorrt-cu12]" in text


def test_runtime_nullptr_on_a_prebuilt_engine_is_one_line(cuda13_trt_on_cuda12_driver, tmp_path):
    engine_file = tmp_path / "model.engine"
    engine_file.write_bytes(b"FAKETRT1{}")
    with pytest.raises(TensorRTUnavailable, match="cannot start"):
        TensorRTEngine(str(engine_file))


def test_auto_falls_back_to_the_cpu_with_one_note(cuda13_trt_on_cuda12_driver, tiny_onnx, capfd):
    with create_engine(str(tiny_onnx), backend="auto", imgsz=(32, 32), calibration=MediaFrames()) as engine:
        assert engine.name in ("onnxruntime", "openvino")  # the CPU engine measured fastest here
    # One note for the GPU path; the auto trial's report of its CPU choice ("rtdetect: auto: ...") is not one.
    notes = [line for line in error_lines(capfd.readouterr().err) if not line.startswith("rtdetect: auto: ")]
    assert len(notes) == 1 and notes[0].startswith("rtdetect: running on the CPU") and "cannot start" in notes[0]


def test_auto_without_nvcc_falls_back_to_the_cpu(cuda, install_trt, monkeypatch, tmp_path, capfd):
    from rtdetect.gpu import fatbin

    install_trt()
    monkeypatch.setattr(fatbin, "search_places", lambda: [])  # no prebuilt kernels (a source checkout)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvcc: rtdetect's kernels cannot be compiled
    assert choose_backend("auto") == "cpu"
    assert "nvcc" in capfd.readouterr().err


def prebuilt_place(tmp_path, *, architectures=None, ptx="75", cuda="13.0"):
    """A fatbin directory built (per its manifest) from the current sources, contents not loaded."""
    import json

    from rtdetect.gpu import fatbin
    from rtdetect.gpu.sources import kernels_dir

    place = tmp_path / "prebuilt"
    place.mkdir()
    for name in fatbin.SOURCE_FILES:
        (place / fatbin.fatbin_name(name)).write_bytes(b"")
    (place / fatbin.MANIFEST).write_text(json.dumps({
        "cuda": cuda, "architectures": list(architectures or fatbin.ARCHITECTURES), "ptx": ptx,
        "sha256": fatbin.digests(kernels_dir())}))
    return place


def test_auto_needs_no_nvcc_where_the_kernels_come_prebuilt(cuda, install_trt, monkeypatch, tmp_path, capfd):
    """Issue 10 item 1: a TensorRT runtime image without the CUDA toolkit runs the GPU path from the
    wheel's fatbins."""
    from rtdetect.gpu import fatbin

    install_trt()
    cuda.driver_version = 13000
    place = prebuilt_place(tmp_path)
    monkeypatch.setattr(fatbin, "search_places", lambda: [place])
    monkeypatch.setenv("PATH", str(tmp_path))
    assert choose_backend("auto") == "tensorrt" and capfd.readouterr().err == ""


@pytest.mark.parametrize("capability,driver,architectures,ptx,expected", [
    ((8, 0), 13000, ("75", "86", "87", "89", "90"), "90", "sm_80"),  # the old wheel on an A100
    ((12, 0), 12080, None, "75", "CUDA 12.8"),  # Blackwell on an r570 driver, CUDA 13 fatbins
    ((8, 6), 12040, None, "75", "CUDA 12.4"),  # any GPU on a CUDA 12 driver, CUDA 13 fatbins
])
def test_auto_checks_architecture_and_driver_before_any_engine_build(cuda, install_trt, monkeypatch, tmp_path,
                                                                     capfd, capability, driver, architectures,
                                                                     ptx, expected):
    """Issue 28 item 2: readiness ignored the GPU's architecture and the driver, so `rtdetect doctor` said
    ready and auto built the engine (minutes) before the kernels failed to load, with no CPU fallback."""
    from rtdetect.gpu import fatbin
    from rtdetect.inference.tensorrt.doctor import report

    install_trt()
    cuda.capability, cuda.driver_version = capability, driver
    place = prebuilt_place(tmp_path, architectures=architectures, ptx=ptx)
    monkeypatch.setattr(fatbin, "search_places", lambda: [place])
    monkeypatch.setenv("PATH", str(tmp_path))  # no toolkit
    assert choose_backend("auto") == "cpu"
    notes = error_lines(capfd.readouterr().err)
    assert len(notes) == 1 and notes[0].startswith("rtdetect: running on the CPU") and expected in notes[0]
    assert "Fake GPU" in notes[0]
    assert report()[-1].startswith("GPU path: not available") and expected in report()[-1]


def test_auto_picks_tensorrt_when_everything_is_there(cuda, install_trt, fake_nvcc, capfd):
    install_trt()
    assert choose_backend("auto") == "tensorrt" and capfd.readouterr().err == ""
    assert cuda.context_depth == 0


def test_primary_context_release_leaves_the_thread_stack_as_it_was(cuda):
    foreign = 0xF00D  # a context another library (torch, the CUDA runtime) made current on this thread
    cuda.stacks().driver.append(foreign)
    with PrimaryContext(0) as context:
        with context.active():
            assert cuda.stacks().driver[-1] == 0xC0DE00
        assert cuda.stacks().driver == [foreign]
    assert cuda.stacks().driver == [foreign] and cuda.stacks().pycuda == []
    assert (cuda.retained, cuda.released) == (1, 1)


def test_engine_close_leaves_no_context_current(cuda, install_trt, tiny_onnx, tmp_path):
    install_trt()
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path)) as engine:
        engine.infer(np.zeros((1, 3, 32, 32), np.float32))
    assert cuda.context_depth == 0 and cuda.retained == cuda.released > 0


class _NoDriverFinder(importlib.abc.MetaPathFinder):
    """``import pycuda.driver`` as it fails with pycuda installed and no NVIDIA driver."""

    def find_spec(self, name, path=None, target=None):
        if name in ("pycuda", "pycuda.driver"):
            raise ImportError("libcuda.so.1: cannot open shared object file: No such file or directory")
        return None


def test_missing_driver_is_not_reported_as_missing_pycuda(monkeypatch):
    monkeypatch.delitem(sys.modules, "pycuda", raising=False)
    monkeypatch.delitem(sys.modules, "pycuda.driver", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoDriverFinder(), *sys.meta_path])
    with pytest.raises(CudaUnavailableError) as info:
        import_driver()
    text = str(info.value)
    assert "NVIDIA driver is not installed" in text and "pip install" not in text
    assert isinstance(info.value, RtdetectError)


def test_invalid_optimisation_profile_is_reported_where_it_happens(cuda, install_trt, tiny_onnx, tmp_path):
    install_trt()
    with TensorRTToolkit() as toolkit, pytest.raises(EngineBuildError, match="rejected the optimisation profile"):
        toolkit.serialize(tiny_onnx, precision_recipe(toolkit.trt_version, "fp32"), "images",
                          [(1, 3, 32, 32), (4, 3, 32, 32), (2, 3, 32, 32)], tmp_path / "timing.cache")
    assert cuda.context_depth == 0


def test_build_returning_none_is_a_build_error(cuda, install_trt, tiny_onnx, tmp_path):
    install_trt(build_returns_none=True)
    with pytest.raises(EngineBuildError, match="could not build an engine"):
        TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp32", cache_dir=str(tmp_path))
    assert cuda.context_depth == 0


def test_float16_engine_io_is_fed_and_read_as_float16(cuda, install_trt, tiny_onnx, tmp_path):
    install_trt(io_dtype=np.float16)
    tensor = np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)
    with TensorRTEngine(str(tiny_onnx), imgsz=(32, 32), precision="fp16", cache_dir=str(tmp_path)) as engine:
        assert engine.input_dtype == np.float16
        (out,) = engine.infer(tensor.astype(np.float16))
    mean = tensor.astype(np.float16).astype(np.float32).mean()
    expected = mean * np.arange(1, OUTPUT_CHANNELS + 1)[:, None] + np.arange(OUTPUT_ANCHORS)[None, :]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], expected, rtol=2e-3)


@pytest.mark.parametrize("driver, trt_version, trt_cuda, expected", [
    ((12, 4), "11.4.0.106", 13, "fit: NO"),
    ((13, 0), "10.16.1.11", 12, "fit: yes"),
    ((12, 8), None, None, "rtdetect[tensorrt-cu12]"),
    (None, "11.4.0.106", 13, "no NVIDIA driver"),
])
def test_doctor_says_whether_driver_and_tensorrt_fit(driver, trt_version, trt_cuda, expected):
    assert expected in fit_line(driver, trt_version, trt_cuda)


def test_cli_on_a_cuda12_driver_with_a_cuda13_tensorrt(tmp_path, data_dir, tiny_onnx):
    """The real commands in a subprocess (fakes installed by tests/trt/fake_cli.py): `build` and
    `--backend tensorrt` print one error line; `--backend auto` runs on the CPU after one note; `doctor`
    reports the mismatch and the extra that fits."""
    fakes = ["--trt", "11.4.0.106", "--trt-cuda", "13", "--trt-no-cuda", "--driver", "12040", "--"]
    env_cache = ["--cache-dir", str(tmp_path / "cache")]
    build = run_fake_cli(*fakes, "build", "--model", tiny_onnx, "--imgsz", "32", *env_cache, cwd=tmp_path)
    assert build.returncode == 1 and error_lines(build.stderr) == [
        "rtdetect: error: TensorRT 11.4.0.106 (built for CUDA 13) cannot start: the NVIDIA driver supports "
        "CUDA 12.4 only; update the driver or pip install 'rtdetect[tensorrt-cu12]'"]
    auto = run_fake_cli(*fakes, "--source", data_dir / "bus.jpg", "--model", tiny_onnx, "--imgsz", "32",
                        "--backend", "auto", "--no-progress", "--json", tmp_path / "out.jsonl", cwd=tmp_path)
    lines = error_lines(auto.stderr)
    assert auto.returncode == 0 and lines[0].startswith(
        "rtdetect: running on the CPU: the GPU path cannot start: TensorRT 11.4.0.106")
    assert sum("running on the CPU" in line for line in lines) == 1 and "error" not in auto.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
    doctor = run_fake_cli(*fakes, "doctor", cwd=tmp_path)
    assert doctor.returncode == 0 and "fit: NO" in doctor.stdout and "tensorrt-cu12" in doctor.stdout
    assert "NVIDIA driver: supports CUDA 12.4" in doctor.stdout


def test_cli_with_tensorrt_but_no_pycuda_is_one_error_line(tmp_path, data_dir, tiny_onnx):
    result = run_fake_cli("--trt", "10.16.1.11", "--no-pycuda", "--", "--source", data_dir / "bus.jpg",
                          "--model", tiny_onnx, "--imgsz", "32", "--backend", "tensorrt", "--no-progress",
                          cwd=tmp_path)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "rtdetect: error: pycuda is not installed: pip install 'rtdetect[tensorrt-cu12]' (CUDA 12 driver) or "
        "'rtdetect[tensorrt-cu13]' (CUDA 13 driver); `rtdetect doctor` tells which"]


def test_auto_uses_nvrtc_where_no_fatbin_fits(cuda, install_trt, monkeypatch, tmp_path, capfd):
    """Blackwell on an r570 driver with CUDA 13 fatbins, no toolkit, but the tensorrt-cu12 extra's NVRTC 12.9:
    the GPU path is ready (the kernels are compiled at first use)."""
    from fake_pycuda import FakeNvrtc, install_nvrtc
    from rtdetect.gpu import fatbin

    install_trt()
    cuda.capability, cuda.driver_version = (12, 0), 12080
    install_nvrtc(monkeypatch, FakeNvrtc((12, 9)))
    place = prebuilt_place(tmp_path)
    monkeypatch.setattr(fatbin, "search_places", lambda: [place])
    monkeypatch.setenv("PATH", str(tmp_path))
    assert choose_backend("auto") == "tensorrt" and capfd.readouterr().err == ""
