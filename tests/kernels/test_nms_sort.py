"""nms_sort's cost (issue 10 item 4): no shared-memory bank conflicts in its histogram, no work for n <= 1,
and a block sort instead of 14 radix passes for small n; its answer stays the reference's, on both paths.

Bank conflicts cannot be timed here, so they are counted: the probe (nms_sort_probe.cu) builds nms.cu with
its histogram accesses recorded, runs the real nms_sort (radix path) and hands over, per thread, every
shared-memory word touched with its access site and barrier phase. A warp's 32 lanes execute an access
together; the k-th time each lane reaches a site within a phase is the same warp-wide access (also for the
loops whose trip count differs per lane: lanes still in the loop run that iteration together). Its
conflict degree is the most distinct words any one bank (word mod 32) serves; lanes reading one word get
a broadcast. The barrier cost is counted by the emulator (``__syncthreads`` phases of the last launch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kernels_emulator import EmulatedRuntime, KernelLibrary, build_library
from rtdetect.gpu import DeviceCandidates, GpuNms, download_detections
from rtdetect.gpu.nms import NMS_KERNELS
from rtdetect.nms import nms_reference

from test_nms_kernel import random_boxes

PROBE = Path(__file__).with_name("nms_sort_probe.cu")
WARP, BANKS = 32, 32
SMALL_SORT_LIMIT = 512  # kernels/nms.cu RT_SMALL_SORT: up to this many candidates take the block sort
HIST_SITES = 9  # histogram accesses in rt_radix_pass: zero, count, mine, scan read, scan add, first, base, set, scatter


@pytest.fixture(scope="module")
def probe_library() -> KernelLibrary:
    return KernelLibrary(build_library([PROBE], [*NMS_KERNELS, "probe_take_touches"], rtdetect_kernels=False))


def touches(rt: EmulatedRuntime) -> np.ndarray:
    """(k, 4) uint32 {thread, phase, site, word} of every histogram access of the last launches."""
    count, capacity = np.zeros(1, np.uint32), 1 << 21
    out, device_count = rt.alloc(16 * capacity), rt.alloc(4)
    rt.launch("probe_take_touches", (1, 1), 1, (out, capacity, device_count))
    rt.download(count, int(device_count))
    assert count[0] <= capacity
    records = np.empty((int(count[0]), 4), np.uint32)
    rt.download(records, int(out))
    return records


def conflict_degrees(records: np.ndarray) -> dict[int, int]:
    """Per access site: the worst bank conflict degree of any warp-wide access (1 = conflict-free)."""
    thread, phase, site, word = records.T.astype(np.int64)
    order = np.lexsort((np.arange(len(records)), site, phase, thread))  # stable: program order per thread
    key = np.stack([thread, phase, site], axis=1)[order]
    starts = np.r_[0, np.flatnonzero((key[1:] != key[:-1]).any(axis=1)) + 1]
    occurrence = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    access = np.stack([thread[order] // WARP, phase[order], site[order], occurrence], axis=1)
    words = np.unique(np.column_stack([access, word[order] % BANKS, word[order]]), axis=0)
    banks, per_bank = np.unique(words[:, :5], axis=0, return_counts=True)  # distinct words per bank
    return {int(s): int(per_bank[banks[:, 2] == s].max()) for s in np.unique(banks[:, 2])}


@pytest.mark.parametrize("threads", [64, 256])
def test_radix_histogram_accesses_are_free_of_bank_conflicts(probe_library, threads):
    rt = EmulatedRuntime(probe_library, block_threads=threads, grid_blocks=2)
    touches(rt)  # start from no records
    got, want = scrambled_run(rt, 1500, seed=threads)
    np.testing.assert_array_equal(got, want)  # the probed build sorts like the real one
    records = touches(rt)
    assert len(records) and len(np.unique(records[:, 0])) == threads and records[:, 3].max() < 16 * threads
    degrees = conflict_degrees(records)
    assert len(degrees) == HIST_SITES, degrees  # every access of the radix pass was seen
    assert max(degrees.values()) == 1, degrees


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


@pytest.mark.parametrize("n", [2, 300, SMALL_SORT_LIMIT, SMALL_SORT_LIMIT + 1, 1024, 3000])
def test_both_sort_paths_give_the_reference_order(emulated_runtime, n):
    got, want = scrambled_run(emulated_runtime, n, seed=n)
    np.testing.assert_array_equal(got, want)
    if n <= SMALL_SORT_LIMIT:  # the block sort: a handful of barriers, not 14 radix passes of scans
        assert emulated_runtime.sync_phases["nms_sort"] <= 4
    else:  # issue 28: above 512 the radix passes cost less than the O(n^2) ranking (kernels/nms.cu)
        assert emulated_runtime.sync_phases["nms_sort"] > 4
