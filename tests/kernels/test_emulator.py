"""The emulator is itself under test: half conversion, shared memory, atomics, barriers, guard bytes, and
the agreement of the kernel table (Python catalog, .cu declarations, compiled signatures)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from rtdetect.gpu.catalog import KERNELS, SOURCE_FILES
from rtdetect.gpu.sources import kernel_source


def _run(runtime, kernel, grid, block, *args):
    runtime.launch(kernel, (grid, 1), block, args)


def _device(runtime, host: np.ndarray):
    buffer = runtime.alloc(host.nbytes)
    runtime.upload(int(buffer), host)
    return buffer


def _download(runtime, buffer, shape, dtype) -> np.ndarray:
    out = np.empty(shape, dtype)
    runtime.download(out, int(buffer))
    return out


def _half_inputs() -> np.ndarray:
    rng = np.random.default_rng(7)
    specials = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e9, np.inf, -np.inf,
                         2.0**-14, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 2.0**-26, 3 * 2.0**-25,
                         1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 / 255, 114.0 / 255], np.float32)
    bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scaled = rng.standard_normal(20000).astype(np.float32) * np.float32(10.0) ** rng.integers(-9, 6, 20000)
    ties = (np.arange(-3000, 3000, dtype=np.float32) + np.float32(0.5)) * np.float32(2.0**-10)
    every_half = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    return np.concatenate([specials, bits, scaled.astype(np.float32), ties, every_half])


def test_half_conversion_matches_numpy_round_to_nearest_even(selftest_runtime):
    rt = selftest_runtime
    values = _half_inputs()
    n = len(values)
    every = np.arange(2**16, dtype=np.uint32).astype(np.uint16)
    hin = np.resize(every, n)
    d_in, d_bits, d_hin, d_back = _device(rt, values), rt.alloc(2 * n), _device(rt, hin), rt.alloc(4 * n)
    _run(rt, "selftest_half", 3, 64, d_in, d_bits, d_hin, d_back, n)
    bits = _download(rt, d_bits, n, np.uint16)
    back = _download(rt, d_back, n, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = values.astype(np.float16)
    nan = np.isnan(values)
    assert np.array_equal(bits[~nan], expected[~nan].view(np.uint16))
    assert np.isnan(bits[nan].view(np.float16)).all()
    want_back = hin.view(np.float16).astype(np.float32)
    same = (back.view(np.uint32) == want_back.view(np.uint32)) | (np.isnan(back) & np.isnan(want_back))
    assert same.all()


def test_shared_memory_is_shared_by_a_block_and_blocks_run_in_turn(selftest_runtime):
    rt = selftest_runtime
    block, blocks = 128, 4
    values = np.arange(block * blocks, dtype=np.int32) * 3
    d_in, d_out = _device(rt, values), rt.alloc(values.nbytes)
    _run(rt, "selftest_block_reverse", blocks, block, d_in, d_out)
    got = _download(rt, d_out, values.shape, np.int32)
    assert np.array_equal(got, values.reshape(blocks, block)[:, ::-1].reshape(-1))


def test_atomics_do_not_lose_updates(selftest_runtime):
    rt = selftest_runtime
    counter = _device(rt, np.zeros(1, np.uint32))
    _run(rt, "selftest_atomic_count", 3, 128, counter, 500)
    assert _download(rt, counter, 1, np.uint32)[0] == 3 * 128 * 500


@pytest.mark.parametrize("threads", [1, 5, 64, 1000])
def test_block_scan_helper(selftest_runtime, threads):
    rt = selftest_runtime
    values = np.random.default_rng(threads).integers(0, 100, threads).astype(np.uint32)
    d_in, d_out, d_total = _device(rt, values), rt.alloc(4 * threads), rt.alloc(4)
    _run(rt, "selftest_scan", 1, threads, d_in, d_out, d_total)
    got = _download(rt, d_out, threads, np.uint32)
    assert np.array_equal(got, np.concatenate([[0], np.cumsum(values)[:-1]]).astype(np.uint32))
    assert _download(rt, d_total, 1, np.uint32)[0] == values.sum()


def test_divergent_barrier_is_reported(selftest_runtime):
    rt = selftest_runtime
    out = rt.alloc(4 * 64)
    with pytest.raises(RuntimeError, match="divergent barrier"):
        _run(rt, "selftest_divergent_barrier", 1, 64, out)


def test_out_of_bounds_write_is_reported(selftest_runtime):
    rt = selftest_runtime
    buffer = rt.alloc(4 * 10)
    with pytest.raises(RuntimeError, match="wrote outside a buffer"):
        _run(rt, "selftest_out_of_bounds", 1, 32, buffer, 10)
    rt.free(buffer)


def test_wrong_parameter_list_is_refused(selftest_runtime):
    library = selftest_runtime.library
    with pytest.raises(RuntimeError, match="parameter 1 has 8 bytes"):
        library.launch("selftest_atomic_count", "PP", (1,), (1,), [0, 0])
    with pytest.raises(RuntimeError, match="no such kernel"):
        library.launch("no_such_kernel", "", (1,), (1,), [])


def test_catalog_matches_compiled_signatures(emulator_library):
    compiled = emulator_library.signatures()
    for name, spec in KERNELS.items():
        assert compiled.get(name) == spec.arg_types, name


def test_catalog_lists_every_kernel_of_every_source():
    declared = {}
    for source in SOURCE_FILES:
        for name in re.findall(r'extern "C" __global__ void (\w+)\(', kernel_source(source)):
            declared[name] = source
    assert declared == {name: spec.source for name, spec in KERNELS.items()}
