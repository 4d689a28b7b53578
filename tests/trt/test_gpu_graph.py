"""CUDA graph bookkeeping and event timing with fake streams (no CUDA here: these test rtdetect's logic
around pycuda's capture API, not CUDA itself)."""
import types

import pytest

from rtdetect.trt.gpu_graph import GraphCache
from rtdetect.trt.gpu_timing import EventClock

from .fake_gpu import FakeCudaDriver, FakeError


class CapturingStream:
    """Records what happens: eager work, captures (what was enqueued while capturing) and graph launches."""

    def __init__(self, fail_capture=False, invalid_graph=False):
        self.log, self.capturing, self.fail_capture, self.invalid_graph = [], False, fail_capture, invalid_graph

    def synchronize(self):
        self.log.append("sync")

    def begin_capture(self, mode):
        self.capturing = True
        self.log.append(f"begin:{mode}")

    def end_capture(self):
        self.capturing = False
        self.log.append("end")
        if self.invalid_graph:
            raise FakeError("capture invalidated")
        return types.SimpleNamespace(instantiate=lambda: types.SimpleNamespace(launch=self._launch))

    def _launch(self, stream):
        assert stream is self
        self.log.append("graph")


def work(stream, fail_when_capturing=False):
    def enqueue():
        if stream.capturing and fail_when_capturing:
            raise RuntimeError("execute_async_v3 failed")
        stream.log.append("captured" if stream.capturing else "eager")
    return enqueue


def test_capture_once_per_key_then_replay():
    stream, messages = CapturingStream(), []
    graphs = GraphCache(FakeCudaDriver(), stream, messages.append)
    assert graphs.run(("slot0", (576, 768)), work(stream))
    assert stream.log == ["eager", "sync", "begin:1", "captured", "end", "graph"]  # warm-up outside the capture
    stream.log.clear()
    assert graphs.run(("slot0", (576, 768)), work(stream))
    assert stream.log == ["graph"]
    graphs.run(("slot1", (576, 768)), work(stream))
    assert stream.log.count("begin:1") == 1 and not messages
    graphs.drop(lambda key: key[0] == "slot0")
    stream.log.clear()
    graphs.run(("slot0", (576, 768)), work(stream))
    assert "begin:1" in stream.log


@pytest.mark.parametrize("stream, fail", [(CapturingStream(), True), (CapturingStream(invalid_graph=True), False)])
def test_failed_capture_falls_back_to_eager_for_good(stream, fail):
    messages = []
    graphs = GraphCache(FakeCudaDriver(), stream, messages.append)
    assert graphs.run("k", work(stream, fail_when_capturing=fail)) is False
    assert not graphs.enabled and not stream.capturing
    assert stream.log[-1] == "eager" and stream.log.count("eager") == 2  # warm-up, then the real eager run
    assert len(messages) == 1 and "disabled" in messages[0]
    stream.log.clear()
    assert graphs.run("k", work(stream)) is False and stream.log == ["eager"]


def test_disabled_cache_never_captures():
    stream = CapturingStream()
    assert GraphCache(FakeCudaDriver(), stream, print, enabled=False).run("k", work(stream)) is False
    assert stream.log == ["eager"]


def test_event_clock_gives_seconds_between_marks():
    clock = EventClock(FakeCudaDriver())
    clock.start(None)
    for name in ("preprocess", "inference", "decode_nms"):
        clock.lap(name, None)
    seconds = clock.seconds()
    assert list(seconds) == ["preprocess", "inference", "decode_nms"]
    assert all(0 <= s < 1 for s in seconds.values())
    assert clock.last is clock._events["decode_nms"]
    clock.start(None)
    clock.lap("upload", None)
    assert list(clock.seconds()) == ["upload"]  # a new frame starts a new list of marks
