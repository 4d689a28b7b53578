"""The stop contract of a run, made deterministic: a stop that arrives while one sink writes a frame still
lets that frame reach every sink (a signal lands in that window only by chance, so signal tests hardly
ever cover it), and the run ends right after it: the video holds exactly the frames of the JSONL."""
import json
import threading

import pytest

from rtdetect.capture import open_source
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.run import CpuModel, Runner
from rtdetect.sinks import JsonlSink, VideoSink

from .helpers import decoded_frame_count, leftovers

STOP_AT = 3  # the frame (1-based) whose JSONL write asks the run to stop


class StopDuringWrite:
    """A real sink that sets ``stop`` in the middle of writing frame ``STOP_AT`` (as a signal handler does
    while the main thread is inside the write), then completes the write."""

    def __init__(self, sink, stop: threading.Event) -> None:
        self._sink, self._stop = sink, stop
        self.needs_render = sink.needs_render
        self.quit_requested = False
        self.writes = 0

    def write(self, frame, detections, rendered=None) -> None:
        self.writes += 1
        if self.writes == STOP_AT:
            self._stop.set()
        self._sink.write(frame, detections, rendered)

    def close(self, **kwargs) -> None:
        self._sink.close(**kwargs)


@pytest.fixture(scope="module")
def pipeline(small_detector):
    with OnnxRuntimeEngine(str(small_detector)) as engine:
        yield CpuModel(engine)


def test_a_stop_during_one_sinks_write_still_gives_the_frame_to_every_sink(pipeline, data_dir, tmp_path):
    stop = threading.Event()
    with open_source(str(data_dir / "vtest_3s.mp4")) as source:
        jsonl = StopDuringWrite(JsonlSink(str(tmp_path / "out.jsonl"), pipeline.names), stop)
        video = VideoSink(str(tmp_path / "out.mp4"), source.fps)
        try:
            summary = Runner(pipeline).run(source, [jsonl, video], stop=stop)
        finally:
            jsonl.close()
            video.close()
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(STOP_AT))
    assert summary.frames == STOP_AT == video.frames
    assert decoded_frame_count(tmp_path / "out.mp4") == STOP_AT
    assert leftovers(tmp_path) == []
