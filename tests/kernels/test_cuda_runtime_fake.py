"""``CudaRuntime`` on a fake pycuda whose launches run the real kernels on the CPU emulator.

This exercises rtdetect's use of pycuda (primary context pushed and popped around every call, kernels
compiled once per source with the float-exact options and loaded from the cubin, prepared launches with
the catalog's type codes, memory and copies) and a full decode -> NMS -> masks chain through it. It proves
nothing about pycuda or a GPU: the needs_cuda tests run the same stages on the real thing.
"""
from __future__ import annotations

import numpy as np
import pytest

from fake_pycuda import install_nvrtc, FakeCudaDriver, install
from rtdetect.gpu import CudaRuntime, CudaUnavailableError, GpuDecode, GpuMasks, GpuNms, download_detections, fatbin
from rtdetect.gpu.compile import compile_cubin
from rtdetect.gpu.sources import kernels_dir
from rtdetect.preprocess import letterbox_params
from test_decode_kernel import cpu_path, make_prediction, reference


@pytest.fixture
def fake(monkeypatch, emulator_library):
    driver = install(monkeypatch, FakeCudaDriver(library=emulator_library, capability=(8, 6)))
    install_nvrtc(monkeypatch, None)  # the nvcc route
    monkeypatch.setattr(fatbin, "search_places", lambda: [])  # the nvcc route (tests/kernels/test_prebuilt.py: the other)
    compile_cubin.cache_clear()  # never mix fake cubins with real ones in the per-process cache
    yield driver
    compile_cubin.cache_clear()


def test_chain_through_cuda_runtime(fake):
    rng = np.random.default_rng(0)
    prediction = make_prediction("v8", 3000, 3, 4, np.float32, rng)
    box = letterbox_params((480, 640), (640, 640))[0]
    cands = reference("v8", prediction, 3, 4, 0.25)
    keep, boxes = cpu_path(cands, box, 0.5, 50)
    with CudaRuntime(block_threads=64, grid_blocks=3) as runtime:
        assert runtime.arch == "sm_86" and fake.context_depth == 0
        with GpuDecode(runtime, layout="v8", num_classes=3, num_candidates=3000, num_masks=4) as decode, \
                GpuNms(runtime, capacity=8192, max_det=50, num_masks=4, num_classes=3) as nms:
            device = runtime.alloc(prediction.nbytes)
            runtime.upload(int(device), prediction)
            detections = nms.run(decode.run(int(device), box, 0.25), 0.5)
            kept = download_detections(runtime, detections)
            np.testing.assert_array_equal(kept.xyxy, boxes)  # read at once: the download waited
            np.testing.assert_array_equal(kept.mask_coefs, cands.mask_coefs[keep])
            runtime.free(device)
            protos = rng.standard_normal((4, 160, 160)).astype(np.float32)
            with GpuMasks(runtime, max_det=50, num_masks=4, proto_hw=(160, 160), frame_hw=(480, 640)) as masks:
                masks_device = runtime.alloc(protos.nbytes)
                runtime.upload(int(masks_device), protos)
                masks.run(detections, int(masks_device), box)
                assert masks.download_info()[1] == len(kept.xyxy) > 0  # the queued mask kernels ran at this wait
                runtime.free(masks_device)
        assert fake.context_depth == 0  # every push was popped
    assert fake.retained == fake.released == 1 and fake.context_depth == 0
    # Each source file compiled once, with the options that make float maths NumPy's, as C++ entry points.
    assert len(fake.compiles) == 3
    for call in fake.compiles:
        assert "--fmad=false" in call["options"] and call["no_extern_c"] and call["arch"] == "sm_86"
        assert call["include_dirs"] == [str(kernels_dir())]
    launched = [name for name, _, _ in fake.launches]
    assert launched[:1] == ["decode_v8_f32"] and "nms_sort" in launched and "mask_rasterize" in launched


def test_the_caller_stream_is_used_and_closing_twice_is_harmless(fake):
    stream = fake.Stream()
    runtime = CudaRuntime(stream=stream)
    assert runtime.grid_blocks == 8 * 4 and runtime.block_threads == 256
    runtime.synchronize()
    assert stream.synchronized == 1
    runtime.close()
    runtime.close()
    with pytest.raises(RuntimeError, match="closed"):
        runtime.alloc(16)


def test_bad_geometry_and_missing_device(fake):
    with pytest.raises(ValueError, match="block_threads"):
        CudaRuntime(block_threads=96)
    from rtdetect.gpu import CudaUnavailableError

    with pytest.raises(CudaUnavailableError, match="device 3 does not exist"):
        CudaRuntime(3)


def test_a_block_larger_than_the_kernel_allows_is_refused_before_launch(fake):
    fake.max_threads_per_block = 512  # e.g. a kernel built with more than 64 registers per thread
    with CudaRuntime(block_threads=1024, grid_blocks=2) as runtime, \
            GpuDecode(runtime, layout="v8", num_classes=3, num_candidates=100) as decode:
        with pytest.raises(ValueError, match="at most 512 threads per block"):
            decode.run(16, letterbox_params((480, 640), (640, 640))[0], 0.25)
        assert fake.launches == [] and fake.context_depth == 0


def test_nvcc_refusing_the_architecture_is_one_clear_line(fake):
    """nvcc 13 has no sm_72 (Jetson Xavier): its CompileError (not an OSError) becomes one line."""
    from rtdetect.gpu import GpuPreprocess

    fake.capability = (7, 2)
    with CudaRuntime() as runtime:
        with pytest.raises(CudaUnavailableError) as info:
            GpuPreprocess(runtime, (32, 32))
    text = str(info.value)
    assert "\n" not in text and "sm_72" in text and "Unsupported gpu architecture" in text
    assert fake.context_depth == 0
