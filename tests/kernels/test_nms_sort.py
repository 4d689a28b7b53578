"""nms_sort's cost (issue 10 item 4): no shared-memory bank conflicts in its histogram, no work for n <= 1,
and a block sort instead of 14 radix passes for small n; its answer stays the reference's, on both paths.

Bank conflicts cannot be timed here, but they are a property of the index arithmetic: a probe kernel
(nms_sort_probe.cu, built with nms.cu) writes the shared-memory slot of every histogram counter, and the
test checks the banks (slot mod 32) a warp touches when every lane accesses its own column at any digit,
the one access pattern of a radix pass (counting, the row scans, scattering). The barrier cost is
counted by the emulator (``__syncthreads`` phases of the last launch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kernels_emulator import EmulatedRuntime, KernelLibrary, build_library
from rtdetect.gpu import DeviceCandidates, GpuNms, download_detections
from rtdetect.nms import nms_reference

from test_nms_kernel import random_boxes

PROBE = Path(__file__).with_name("nms_sort_probe.cu")
WARP, BANKS = 32, 32
SMALL_SORT_LIMIT = 1024  # kernels/nms.cu RT_SMALL_SORT: up to this many candidates take the block sort


@pytest.fixture(scope="module")
def probe_runtime() -> EmulatedRuntime:
    library = KernelLibrary(build_library([PROBE], ["probe_hist_slots"], rtdetect_kernels=False))
    return EmulatedRuntime(library, block_threads=32, grid_blocks=1)


@pytest.mark.parametrize("threads", [64, 128, 256])
def test_histogram_counters_touch_every_bank_once_per_warp(probe_runtime, threads):
    rt = probe_runtime
    info = np.zeros(2, np.uint32)
    device_info, device_slots = rt.alloc(8), rt.alloc(4 * 16 * threads)
    rt.launch("probe_hist_slots", (1, 1), 32, (threads, device_slots, device_info))
    rt.download(info, int(device_info))
    radix = int(info[1])
    slots = np.zeros(radix * threads, np.uint32)
    rt.download(slots, int(device_slots))
    assert len(np.unique(slots)) == len(slots) and slots.max() < info[0]  # one slot per counter, in bounds
    linear = np.arange(radix * threads).reshape(radix, threads)  # counter (digit d, thread t) = d * threads + t
    for warp in range(threads // WARP):
        lanes = np.arange(warp * WARP, (warp + 1) * WARP)
        banks = slots[linear[:, lanes]] % BANKS  # (digit, lane)
        assert (banks == banks[0]).all(), f"threads={threads}: a lane's bank depends on its digit"
        assert len(set(banks[0])) == WARP, f"threads={threads}: lanes of a warp share a bank"


def scrambled_run(rt, n, seed, *, max_det=300):
    """NMS of n candidates in scrambled slot order with their model indices; returns (kept sources, reference)."""
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n, extent=300.0)
    scores = (rng.integers(0, 6, n) / 6).astype(np.float32)
    classes = rng.integers(0, 3, n).astype(np.int32)
    slots = rng.permutation(n)
    buffers = {name: rt.alloc(nbytes) for name, nbytes in
               (("boxes", 16 * max(n, 1)), ("scores", 4 * max(n, 1)), ("classes", 4 * max(n, 1)),
                ("source", 4 * max(n, 1)), ("count", 4))}
    for name, values in (("boxes", boxes[slots]), ("scores", scores[slots]), ("classes", classes[slots]),
                         ("source", slots.astype(np.int32)), ("count", np.array([n], np.uint32))):
        rt.upload(int(buffers[name]), values)
    capacity = max(n, 1)
    candidates = DeviceCandidates(int(buffers["boxes"]), int(buffers["scores"]), int(buffers["classes"]),
                                  int(buffers["source"]), 0, int(buffers["count"]), capacity, 0,
                                  max(1, (capacity - 1).bit_length()))
    with GpuNms(rt, capacity=capacity, max_det=max_det, num_classes=3) as stage:
        kept = download_detections(rt, stage.run(candidates, 0.5))
    for buffer in buffers.values():
        rt.free(buffer)
    return kept.source, nms_reference(boxes, scores, classes, 0.5, max_det)


@pytest.mark.parametrize("n", [0, 1])
def test_nothing_to_sort_costs_no_barrier(emulated_runtime, n):
    got, want = scrambled_run(emulated_runtime, n, seed=n)
    np.testing.assert_array_equal(got, want)
    assert emulated_runtime.sync_phases["nms_sort"] == 0


@pytest.mark.parametrize("n", [2, 300, SMALL_SORT_LIMIT, SMALL_SORT_LIMIT + 1, 3000])
def test_both_sort_paths_give_the_reference_order(emulated_runtime, n):
    got, want = scrambled_run(emulated_runtime, n, seed=n)
    np.testing.assert_array_equal(got, want)
    if n <= SMALL_SORT_LIMIT:  # the block sort: a handful of barriers, not 14 radix passes of scans
        assert emulated_runtime.sync_phases["nms_sort"] <= 4
