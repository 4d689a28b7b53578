"""Prebuilt kernels (issue 10 item 1, issue 28 items 1, 2, 5): ``pip wheel .`` carries a fatbin per kernel
source (cubins for sm_75 to sm_120, those the local nvcc builds, + compute_75 PTX) and a manifest of what
they hold, and ``CudaRuntime`` loads them with no compiler: nvcc is taken off PATH and pycuda is the fake
one (tests/fake_pycuda.py), whose modules run the kernels on the CPU emulator, record the image the
driver was given and refuse, as the driver does, an image the GPU and driver could not load. A checkout
without fatbins (or with stale ones) compiles with nvcc, and says in one line what is missing when it
cannot. The wheel is built as CI builds it, with RTDETECT_REQUIRE_FATBIN=1: without kernels it fails."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fake_pycuda import (FATBIN_ELF, FATBIN_PTX, FakeCudaDriver, FakeNvrtc, fatbin_entries, image_refusal, install,
                         install_nvrtc)
from rtdetect.gpu import CudaRuntime, CudaUnavailableError, GpuDecode, GpuNms, download_detections, fatbin
from rtdetect.gpu.compile import compile_cubin, compiler_problem
from rtdetect.gpu import sources
from rtdetect.gpu.sources import kernels_dir
from rtdetect.preprocess import letterbox_params
from test_decode_kernel import cpu_path, make_prediction, reference

ROOT = Path(__file__).resolve().parents[2]
FATBIN_MAGIC = (0xBA55ED50).to_bytes(4, "little")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip wheel .`` builds from this checkout (fatbins from the build/ cache when current), with
    RTDETECT_REQUIRE_FATBIN=1 as CI builds it (.ci/run sets it for the whole run)."""
    if shutil.which("nvcc") is None:
        if os.environ.get("RTDETECT_REQUIRE_FATBIN") == "1":
            pytest.fail("RTDETECT_REQUIRE_FATBIN=1 but nvcc is not on PATH to build the wheel's kernels")
        pytest.skip("nvcc (the CUDA toolkit) is not on PATH, so the wheel's fatbins cannot be built here")
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(out)], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "RTDETECT_REQUIRE_FATBIN": "1"})
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
    driver = install(monkeypatch, FakeCudaDriver(driver_version=13000, library=emulator_library, capability=(8, 6)))
    install_nvrtc(monkeypatch, None)  # no NVRTC unless a test installs one
    monkeypatch.setenv("PATH", str(tmp_path / "no-toolkit"))  # no nvcc
    compile_cubin.cache_clear()
    yield driver
    compile_cubin.cache_clear()


def test_the_wheel_carries_a_fatbin_per_kernel_source(wheel):
    cuda, buildable = fatbin.nvcc_facts(shutil.which("nvcc"))
    with zipfile.ZipFile(wheel) as archive:
        manifest = json.loads(archive.read("rtdetect/gpu/prebuilt/manifest.json"))
        # Every architecture of the list this nvcc builds (nvcc 13: all of sm_75, 80, 86, 87, 89, 90, 100, 120).
        assert manifest["architectures"] == list(buildable) and manifest["ptx"] == "75"
        assert manifest["cuda"] == cuda
        assert manifest["sha256"] == fatbin.digests(kernels_dir())  # built from exactly these sources
        for name in fatbin.SOURCE_FILES:
            data = archive.read(f"rtdetect/gpu/prebuilt/{fatbin.fatbin_name(name)}")
            assert data[:4] == FATBIN_MAGIC, name
            entries = fatbin_entries(data)
            assert sorted(arch for kind, arch, _ in entries if kind == FATBIN_ELF) == sorted(map(int, buildable))
            assert [arch for kind, arch, _ in entries if kind == FATBIN_PTX] == [75]


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


def loads_without_a_toolkit(fake) -> set[bytes]:
    """Run decode + NMS through CudaRuntime; the images the (fake) driver loaded. nvcc must not be used."""
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        runtime.prepare(["decode_v8_f32", "nms_sort", "nms_gather_f32"])
        images = {module.cubin for module in runtime._modules.values()}
    assert fake.compiles == []
    return images


@pytest.mark.parametrize("capability,gpu", [((8, 0), "A100/A30"), ((10, 0), "B200"), ((12, 0), "RTX 5090"),
                                            ((8, 7), "Jetson Orin"), ((13, 0), "a future GPU: the PTX")])
def test_gpus_load_the_wheel_kernels_without_a_toolkit(fake, prebuilt_from_wheel, capability, gpu):
    """Issue 28: the A100 (sm_80) needed nvcc, the wheel having no sm_80 cubin and PTX only at compute_90."""
    fake.capability = capability
    assert compiler_problem(capability, (13, 0)) is None
    assert loads_without_a_toolkit(fake)


def test_blackwell_on_an_r570_driver_is_one_line_before_any_load(fake, prebuilt_from_wheel):
    """CUDA 13 fatbins on a CUDA 12.8 driver (r570): the driver refuses them (the honest fake does too), so
    readiness says so up front and the runtime raises one line naming the GPU and driver, not pycuda's error."""
    fake.capability, fake.driver_version = (12, 0), 12080
    image = (prebuilt_from_wheel / fatbin.fatbin_name("nms.cu")).read_bytes()
    assert image_refusal(image, (12, 0), 12080) is not None and image_refusal(image, (12, 0), 13000) is None
    problem = compiler_problem((12, 0), (12, 8))
    assert "\n" not in problem and "sm_120" in problem and "CUDA 12.8" in problem and "update the NVIDIA driver" in problem
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        with pytest.raises(CudaUnavailableError) as caught:
            runtime.prepare(["nms_sort"])
    assert "\n" not in str(caught.value) and "sm_120" in str(caught.value) and "CUDA 12.8" in str(caught.value)


def test_an_architecture_below_the_ptx_is_one_line(fake, prebuilt_from_wheel):
    fake.capability = (7, 2)  # Jetson Xavier: no cubin, and compute_75 PTX does not run below 7.5
    assert "do not cover sm_72" in compiler_problem((7, 2), (13, 0))
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        with pytest.raises(CudaUnavailableError, match="do not cover sm_72"):
            runtime.prepare(["nms_sort"])


def test_an_install_without_the_sources_uses_the_fatbins(fake, prebuilt_from_wheel, monkeypatch, tmp_path):
    """``pip install --target`` (or any layout where the .cu files are not found): compiler_problem raised
    FileNotFoundError (its digest check read the sources), so the GPU path was dead with its fatbins there."""
    monkeypatch.setattr(sources, "candidate_dirs", lambda: [tmp_path / "nowhere"])
    with pytest.raises(FileNotFoundError):
        kernels_dir()
    assert compiler_problem() is None and compiler_problem((8, 6), (13, 0)) is None
    assert loads_without_a_toolkit(fake) == {(prebuilt_from_wheel / fatbin.fatbin_name(n)).read_bytes()
                                             for n in ("decode.cu", "nms.cu")}


def test_blackwell_on_an_r570_driver_compiles_with_nvrtc_from_the_cu12_extra(fake, prebuilt_from_wheel, monkeypatch):
    """Issue 28 item 1: where no fatbin fits (CUDA 13 fatbins, a CUDA 12.8 driver) NVRTC 12.9 (the
    nvidia-cuda-nvrtc-cu12 wheel of the tensorrt-cu12 extra) compiles the shipped sources: no nvcc."""
    fake.capability, fake.driver_version = (12, 0), 12080
    compiler = install_nvrtc(monkeypatch, FakeNvrtc((12, 9)))
    assert compiler_problem((12, 0), (12, 8)) is None
    images = loads_without_a_toolkit(fake)
    assert sorted(compiler.compiles) == [("decode.cu", "sm_120"), ("nms.cu", "sm_120")]
    assert all(image.startswith(b"fake cubin") for image in images)


def test_an_nvrtc_newer_than_the_driver_is_one_line_naming_what_to_install(fake, prebuilt_from_wheel, monkeypatch):
    fake.capability, fake.driver_version = (12, 0), 12080
    compiler = install_nvrtc(monkeypatch, FakeNvrtc((13, 0)))  # the cu13 wheel on a CUDA 12 driver
    problem = compiler_problem((12, 0), (12, 8))
    assert "\n" not in problem and "NVRTC 13.0 is newer than the driver" in problem
    assert "rtdetect[tensorrt-cu12]" in problem
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        with pytest.raises(CudaUnavailableError, match="rtdetect\\[tensorrt-cu12\\]"):
            runtime.prepare(["nms_sort"])
    assert compiler.compiles == []


def test_the_real_nvrtc_compiles_every_kernel(tmp_path):
    """NVRTC from NVIDIA's wheel (skips where it is not installed): every kernel source compiles to a cubin
    for an architecture the prebuilt fatbins leave to it, without cuda_fp16.h (the wheel has none)."""
    from rtdetect.gpu import nvrtc
    from rtdetect.gpu.sources import kernel_source

    compiler = nvrtc.load()
    if compiler is None:
        pytest.skip("no NVRTC here (pip install nvidia-cuda-nvrtc, or -cu12)")
    for name in fatbin.SOURCE_FILES:
        for arch in ("sm_80", "sm_120"):
            assert compiler.compile_cubin(kernel_source(name), name, arch, str(kernels_dir()))[:4] == b"\x7fELF"
    with pytest.raises(nvrtc.NvrtcError, match="sm_72"):
        compiler.compile_cubin(kernel_source("nms.cu"), "nms.cu", "sm_72", str(kernels_dir()))
