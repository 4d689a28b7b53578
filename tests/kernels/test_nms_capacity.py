"""The NMS holds every candidate that passes, however many (issue 28 item 3).

It used to stop at 65536 candidates (nms_scan kept a class segment's removed-bits in shared memory), so the
GPU pipeline capped its candidate list there and dropped the excess in atomic, nondeterministic order
(YOLOv5 at 1280 input has 100800 rows, P6 models more), and its IoU bitmask was capacity^2 / 8 bytes
whatever passed (512 MiB at the cap). Now the list's capacity is the model's rows, long segments keep
their bits in global memory, and the bitmask holds only the tiles the candidates that passed need,
growing when a frame needs more (that frame runs again).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from kernels_emulator import EmulatedRuntime, KernelLibrary, build_library
from rtdetect.gpu import GpuNms
from rtdetect.gpu import nms as gpu_nms
from rtdetect.gpu.nms import NMS_KERNELS
from rtdetect.nms import nms, nms_reference

from test_nms_kernel import random_boxes

SPILL_PROBE = Path(__file__).with_name("nms_spill_probe.cu")


def test_more_than_65536_candidates_are_all_considered(emulated_runtime):
    rng = np.random.default_rng(28)
    n, nc = 70000, 500
    boxes = random_boxes(rng, n, extent=2000.0)
    scores = rng.random(n).astype(np.float32)
    classes = rng.integers(0, nc, n).astype(np.int32)
    with GpuNms(emulated_runtime, capacity=n, max_det=n, num_classes=nc) as stage:
        got = stage.run_host(boxes, scores, classes, 0.5)
    np.testing.assert_array_equal(got, nms(boxes, scores, classes, 0.5, n))


def test_the_bitmask_is_sized_by_the_candidates_that_pass(emulated_runtime):
    rt = emulated_runtime
    before = rt.allocated_bytes()
    with GpuNms(rt, capacity=30000, max_det=300, num_classes=1) as stage:
        held = rt.allocated_bytes() - before
        assert held < 4 * 2**20  # the dense capacity^2 / 8 bitmask took 112 MB here
        # 6000 candidates of one class need 94 * 95 / 2 tiles, more than it starts with: it grows once.
        rng = np.random.default_rng(3)
        boxes = random_boxes(rng, 6000, extent=400.0)
        scores = (rng.integers(0, 50, 6000) / 50).astype(np.float32)
        classes = np.zeros(6000, np.int32)
        small = stage.tile_capacity
        got = stage.run_host(boxes, scores, classes, 0.5)
        assert small < 94 * 95 // 2 <= stage.tile_capacity
    np.testing.assert_array_equal(got, nms_reference(boxes, scores, classes, 0.5, 300))


def test_class_segments_longer_than_shared_memory_use_global_memory():
    """The real limit is 1024 words (65536 candidates of one class); the probe build lowers it to 2."""
    library = KernelLibrary(build_library([SPILL_PROBE], NMS_KERNELS, rtdetect_kernels=False))
    rt = EmulatedRuntime(library, block_threads=64, grid_blocks=3)
    rng = np.random.default_rng(5)
    for n, nc in [(100, 1), (500, 1), (1500, 2), (3000, 4)]:  # segments of 1 to 24 words
        boxes = random_boxes(rng, n, extent=150.0)
        scores = (rng.integers(0, 20, n) / 20).astype(np.float32)
        classes = rng.integers(0, nc, n).astype(np.int32)
        with GpuNms(rt, capacity=n, max_det=n, num_classes=nc) as stage:
            got = stage.run_host(boxes, scores, classes, 0.45)
        np.testing.assert_array_equal(got, nms_reference(boxes, scores, classes, 0.45, n))


def test_a_frame_that_outgrows_the_bitmask_is_run_again(emulated_runtime, monkeypatch):
    """A bitmask too small for a frame's candidates: the kernels report nothing rather than a wrong answer,
    and run_host grows it and runs again."""
    monkeypatch.setattr(gpu_nms, "INITIAL_MASK_CANDIDATES", 64)  # one tile
    rng = np.random.default_rng(64)
    n = 900
    boxes = random_boxes(rng, n, extent=300.0)
    scores = (rng.integers(0, 30, n) / 30).astype(np.float32)
    classes = rng.integers(0, 2, n).astype(np.int32)
    with GpuNms(emulated_runtime, capacity=n, max_det=100, num_classes=2) as stage:
        assert stage.tile_capacity == 1
        got = stage.run_host(boxes, scores, classes, 0.5)
        assert stage.tile_capacity > 1
    np.testing.assert_array_equal(got, nms_reference(boxes, scores, classes, 0.5, 100))
