"""The fake GPU itself (tests/fake_pycuda.py) behaves like one where rtdetect can get synchronisation
wrong: work waits in its stream until the host waits, results read too early are poison, events order
streams. (Issue 17 item 2: without this, a missing sync passed every test.)"""
import numpy as np
import pytest

from fake_pycuda import FakeCudaDriver, FakeError


@pytest.fixture
def cuda():
    """The fake driver with the device's primary context current (memory and copies need one)."""
    driver = FakeCudaDriver()
    driver.Device(0).retain_primary_context().push()
    yield driver
    driver.Context.pop()


def test_memory_and_copies_need_a_current_context():
    driver = FakeCudaDriver()
    with pytest.raises(FakeError, match="no current context"):
        driver.mem_alloc(16)
    with pytest.raises(FakeError, match="no current context"):
        driver.pagelocked_empty((4,), np.float32)


def test_copies_wait_for_the_host_and_early_reads_are_poison(cuda):
    stream = cuda.Stream()
    device = cuda.mem_alloc(16)
    source = np.arange(4, dtype=np.float32)
    result = cuda.pagelocked_empty((4,), np.float32)
    assert np.isnan(result).all()  # pinned memory starts poisoned
    cuda.memcpy_htod_async(device, source, stream)
    cuda.memcpy_dtoh_async(result, device, stream)
    assert not stream.is_done() and np.isnan(result).all()
    stream.synchronize()
    assert stream.is_done()
    np.testing.assert_array_equal(result, source)


def test_event_sync_runs_the_stream_up_to_its_mark_only(cuda):
    stream, done = cuda.Stream(), []
    event = cuda.Event()
    stream.enqueue(lambda: done.append(1))
    event.record(stream)
    stream.enqueue(lambda: done.append(2))
    with pytest.raises(FakeError, match="not ready"):
        event.time_since(event)
    event.synchronize()
    assert done == [1] and not stream.is_done()


def test_wait_for_event_orders_two_streams(cuda):
    copy, compute, order = cuda.Stream(), cuda.Stream(), []
    copy.enqueue(lambda: order.append("upload"))
    uploaded = cuda.Event().record(copy)
    compute.wait_for_event(uploaded)
    compute.enqueue(lambda: order.append("kernel"))
    compute.synchronize()
    assert order == ["upload", "kernel"]


def test_integer_results_are_poisoned_bytes(cuda):
    count = cuda.pagelocked_empty((1,), np.uint32)
    assert count[0] == 0xCDCDCDCD
