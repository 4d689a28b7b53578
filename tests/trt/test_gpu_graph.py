"""CUDA graph bookkeeping and event timing with fake streams (no CUDA here: these test rtdetect's logic
around the driver's capture calls, not CUDA itself)."""
import pytest

from rtdetect.gpu.cuda_graphs import CudaGraphError
from rtdetect.gpu.graph_cache import GraphCache
from rtdetect.gpu.timing import EventClock

from fake_pycuda import FakeCudaDriver, FakeStream


class CapturingStream(FakeStream):
    """A pycuda-like stream (no capture methods: pycuda has none) whose log records eager work, captures
    and graph launches made through :class:`FakeGraphApi`."""

    handle = 0x5000

    def __init__(self):
        self.log, self.capturing = [], False

    def synchronize(self):
        self.log.append("sync")


class FakeGraphApi:
    """The DriverGraphApi calls, on integer handles, checking what the driver would check."""

    def __init__(self, stream, fail_end=False, fail_instantiate=False):
        self.stream, self.fail_end, self.fail_instantiate = stream, fail_end, fail_instantiate
        self.graphs, self.execs, self.next = set(), set(), 0x100

    def _new(self, pool):
        self.next += 1
        pool.add(self.next)
        return self.next

    def begin_capture(self, stream, mode=1):
        if stream != self.stream.handle or self.stream.capturing:
            raise CudaGraphError("cuStreamBeginCapture failed")
        self.stream.capturing = True
        self.stream.log.append(f"begin:{mode}")

    def end_capture(self, stream):
        if stream != self.stream.handle or not self.stream.capturing:
            raise CudaGraphError("cuStreamEndCapture failed: not capturing")
        self.stream.capturing = False
        self.stream.log.append("end")
        if self.fail_end:
            raise CudaGraphError("cuStreamEndCapture failed: capture invalidated")
        return self._new(self.graphs)

    def instantiate(self, graph):
        if graph not in self.graphs:
            raise CudaGraphError("cuGraphInstantiate failed: invalid graph")
        if self.fail_instantiate:
            raise CudaGraphError("cuGraphInstantiate failed")
        return self._new(self.execs)

    def launch(self, graph_exec, stream):
        if graph_exec not in self.execs or stream != self.stream.handle:
            raise CudaGraphError("cuGraphLaunch failed")
        self.stream.log.append("graph")

    def destroy_graph(self, graph):
        self.graphs.remove(graph)

    def destroy_exec(self, graph_exec):
        self.execs.remove(graph_exec)


def work(stream, fail_when_capturing=False):
    def enqueue():
        if stream.capturing and fail_when_capturing:
            raise RuntimeError("execute_async_v3 failed")
        stream.log.append("captured" if stream.capturing else "eager")
    return enqueue


def cache_for(stream, messages, **api_options):
    api = FakeGraphApi(stream, **api_options)
    return GraphCache(stream, messages.append, api=lambda: api), api


def test_capture_once_per_key_then_replay():
    stream, messages = CapturingStream(), []
    graphs, api = cache_for(stream, messages)
    assert graphs.run(("slot0", (576, 768)), work(stream))
    assert stream.log == ["eager", "sync", "begin:1", "captured", "end", "graph"]  # warm-up outside the capture
    assert not api.graphs and len(api.execs) == 1  # the graph is destroyed once instantiated
    stream.log.clear()
    assert graphs.run(("slot0", (576, 768)), work(stream))
    assert stream.log == ["graph"]
    graphs.run(("slot1", (576, 768)), work(stream))
    assert stream.log.count("begin:1") == 1 and not messages
    graphs.drop(lambda key: key[0] == "slot0")
    assert len(api.execs) == 1  # the dropped executable graph was destroyed
    stream.log.clear()
    graphs.run(("slot0", (576, 768)), work(stream))
    assert "begin:1" in stream.log
    graphs.drop()
    assert not api.execs


@pytest.mark.parametrize("fail, options", [(True, {}), (False, {"fail_end": True}),
                                           (False, {"fail_instantiate": True})])
def test_failed_capture_falls_back_to_eager_for_good(fail, options):
    stream, messages = CapturingStream(), []
    graphs, api = cache_for(stream, messages, **options)
    assert graphs.run("k", work(stream, fail_when_capturing=fail)) is False
    assert not graphs.enabled and not stream.capturing  # the capture was ended in every case
    assert not api.graphs and not api.execs  # nothing leaked
    assert stream.log[-1] == "eager" and stream.log.count("eager") == 2  # warm-up, then the real eager run
    assert len(messages) == 1 and "disabled" in messages[0]
    stream.log.clear()
    assert graphs.run("k", work(stream)) is False and stream.log == ["eager"]


def test_missing_driver_turns_graphs_off():
    stream, messages = CapturingStream(), []

    def no_driver():
        raise OSError("libcuda.so.1: cannot open shared object file")

    graphs = GraphCache(stream, messages.append, api=no_driver)
    assert graphs.run("k", work(stream)) is False and not graphs.enabled
    assert "libcuda" in messages[0] and stream.log == ["eager", "sync", "eager"]


def test_disabled_cache_never_captures():
    stream = CapturingStream()
    assert GraphCache(stream, print, api=lambda: FakeGraphApi(stream), enabled=False).run("k", work(stream)) is False
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
