"""Prebuilt kernels (issue 10 item 1): ``pip wheel .`` carries a fatbin per kernel source (cubins for
sm_75/86/87/89/90 + PTX), and ``CudaRuntime`` loads them with no compiler: nvcc is taken off PATH and
pycuda is the fake one (tests/fake_pycuda.py), whose modules run the kernels on the CPU emulator
and record the image the driver was given. A checkout without fatbins (or with stale ones) compiles with
nvcc, and says in one line what is missing when it cannot. Needs nvcc to build the wheel's fatbins."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fake_pycuda import FakeCudaDriver, install
from rtdetect.gpu import CudaRuntime, CudaUnavailableError, GpuDecode, GpuNms, download_detections, fatbin
from rtdetect.gpu.compile import compile_cubin, compiler_problem
from rtdetect.gpu.sources import kernels_dir
from rtdetect.preprocess import letterbox_params
from test_decode_kernel import cpu_path, make_prediction, reference

ROOT = Path(__file__).resolve().parents[2]
FATBIN_MAGIC = (0xBA55ED50).to_bytes(4, "little")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip wheel .`` builds from this checkout (fatbins from the build/ cache when current)."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc (the CUDA toolkit) is not on PATH, so the wheel's fatbins cannot be built here")
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(out)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return next(out.glob("rtdetect-*.whl"))


@pytest.fixture
def prebuilt_from_wheel(wheel, tmp_path, monkeypatch) -> Path:
    """The wheel's rtdetect/gpu/prebuilt/, extracted, as the only place fatbins are looked for."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("rtdetect/gpu/prebuilt/"):
                archive.extract(name, tmp_path)
    place = tmp_path / "rtdetect" / "gpu" / "prebuilt"
    monkeypatch.setattr(fatbin, "search_places", lambda: [place])
    return place


@pytest.fixture
def fake(monkeypatch, emulator_library, tmp_path):
    driver = install(monkeypatch, FakeCudaDriver(library=emulator_library, capability=(8, 6)))
    monkeypatch.setenv("PATH", str(tmp_path / "no-toolkit"))  # no nvcc
    compile_cubin.cache_clear()
    yield driver
    compile_cubin.cache_clear()


def test_the_wheel_carries_a_fatbin_per_kernel_source(wheel):
    with zipfile.ZipFile(wheel) as archive:
        manifest = json.loads(archive.read("rtdetect/gpu/prebuilt/manifest.json"))
        assert manifest["architectures"] == ["75", "86", "87", "89", "90"]
        assert manifest["sha256"] == fatbin.digests(kernels_dir())  # built from exactly these sources
        for name in fatbin.SOURCE_FILES:
            data = archive.read(f"rtdetect/gpu/prebuilt/{fatbin.fatbin_name(name)}")
            assert data[:4] == FATBIN_MAGIC, name
            for arch in manifest["architectures"]:
                assert f"sm_{arch}".encode() in data, f"{name}: no sm_{arch} code"


def test_wheel_kernels_load_without_a_compiler(fake, prebuilt_from_wheel):
    assert shutil.which("nvcc") is None and compiler_problem() is None
    rng = np.random.default_rng(0)
    prediction = make_prediction("v8", 2000, 3, 4, np.float32, rng)
    box = letterbox_params((480, 640), (640, 640))[0]
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        with GpuDecode(runtime, layout="v8", num_classes=3, num_candidates=2000, num_masks=4) as decode, \
                GpuNms(runtime, capacity=2000, max_det=50, num_masks=4, num_classes=3) as nms:
            device = runtime.alloc(prediction.nbytes)
            runtime.upload(int(device), prediction)
            kept = download_detections(runtime, nms.run(decode.run(int(device), box, 0.25), 0.5))
            device.free()
        images = {module.cubin for module in runtime._modules.values()}
    assert fake.compiles == []
    assert images == {(prebuilt_from_wheel / fatbin.fatbin_name(n)).read_bytes() for n in ("decode.cu", "nms.cu")}
    cands = reference("v8", prediction, 3, 4, 0.25)
    keep, boxes = cpu_path(cands, box, 0.5, 50)
    np.testing.assert_array_equal(kept.xyxy, boxes)
    np.testing.assert_array_equal(kept.mask_coefs, cands.mask_coefs[keep])


def test_stale_fatbins_are_not_loaded(fake, prebuilt_from_wheel, monkeypatch, tmp_path):
    """A checkout whose sources changed after the build compiles instead (here: nvcc back on PATH)."""
    manifest = prebuilt_from_wheel / fatbin.MANIFEST
    recorded = json.loads(manifest.read_text())
    recorded["sha256"]["nms.cu"] = "0" * 64
    manifest.write_text(json.dumps(recorded))
    nvcc = tmp_path / "bin" / "nvcc"
    nvcc.parent.mkdir()
    nvcc.write_text("#!/bin/sh\nexit 1\n")
    nvcc.chmod(0o755)
    monkeypatch.setenv("PATH", str(nvcc.parent))
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        runtime.prepare(["decode_v8_f32", "nms_sort"])
    assert [call["arch"] for call in fake.compiles] == ["sm_86"]  # nms.cu only; decode.cu came prebuilt


def test_neither_fatbin_nor_nvcc_is_one_clear_error(fake, monkeypatch):
    monkeypatch.setattr(fatbin, "search_places", lambda: [])
    assert "prebuilt CUDA kernels are missing" in compiler_problem()
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        with pytest.raises(CudaUnavailableError) as caught:
            runtime.prepare(["nms_sort"])
    message = str(caught.value)
    assert "\n" not in message and "prebuilt CUDA kernels are missing" in message and "nvcc" in message


def test_gpus_the_fatbins_do_not_cover_need_nvcc(fake, prebuilt_from_wheel):
    fake.capability = (8, 0)  # A100: no sm_80 cubin, and compute_90 PTX cannot run on it
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        with pytest.raises(CudaUnavailableError, match="do not cover sm_80"):
            runtime.prepare(["nms_sort"])
    assert fatbin.arch_is_covered(8, 9) and fatbin.arch_is_covered(12, 0) and not fatbin.arch_is_covered(7, 2)
