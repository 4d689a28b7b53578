"""Live sources are latency first inside the pipeline too: a frame waiting for the model is replaced by a
newer one, so what reaches the sinks is at most about two model periods old, and ``max_frames`` counts the
frames written, not the frames captured."""
import statistics
import time

import pytest

from rtdetect.capture import VideoFileSource
from rtdetect.capture.live import LiveSource
from rtdetect.inference import create_engine
from rtdetect.inference.base import SynchronousSubmit
from rtdetect.run import CpuModel, Runner

INFER_S = 0.15  # the slow model: every inference takes at least this long
FRAME_S = 0.02  # the camera: a new frame every 20 ms (50 fps), far faster than the model


class ClipCamera(LiveSource):
    """A live source replaying the frames of a real clip at 50 fps, round and round."""

    def __init__(self, images) -> None:
        super().__init__("clip-camera")
        self._images = images
        self._next = 0

    def _open(self) -> None:
        self.frame_hw = self._images[0].shape[:2]
        self._start_reader()

    def _read(self):
        time.sleep(FRAME_S)
        image = self._images[self._next % len(self._images)]
        self._next += 1
        return image

    def _close_device(self) -> None:
        pass


class SlowEngine(SynchronousSubmit):
    """A real engine that takes at least ``INFER_S`` per inference (a big model on a small CPU)."""

    def __init__(self, engine) -> None:
        self._engine = engine
        for name in ("name", "precision", "input_hw", "input_dtype", "metadata"):
            setattr(self, name, getattr(engine, name))

    def infer(self, tensor):
        time.sleep(INFER_S)
        return self._engine.infer(tensor)

    def close(self) -> None:
        self._engine.close()


class Ages:
    """A sink that records how old each frame is when its detections are written (seconds)."""

    needs_render = False
    quit_requested = False

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.ages: list[float] = []

    def write(self, frame, detections, rendered) -> None:
        self.ages.append(time.monotonic() - self.source._start_time - frame.pts)


@pytest.fixture(scope="module")
def clip_images(data_dir):
    with VideoFileSource(str(data_dir / "vtest_3s.mp4")) as clip:
        return [frame.image for _, frame in zip(range(10), clip)]


def test_live_frames_reach_the_sinks_within_two_model_periods(small_detector, clip_images):
    engine = SlowEngine(create_engine(str(small_detector), backend="onnxruntime", precision="fp32"))
    try:
        pipeline = CpuModel(engine, warmup_runs=1)
        with ClipCamera(clip_images) as camera:
            ages = Ages(camera)
            summary = Runner(pipeline).run(camera, [ages], max_frames=12)
    finally:
        engine.close()
    # max_frames counts the frames written: frames dropped inside the pipeline do not count.
    assert summary.frames == len(ages.ages) == 12
    assert summary.frames_dropped > 0
    period = statistics.median(summary.stages.samples["inference"])
    assert period >= INFER_S
    # Skip the first frames (the pipeline fills up); then every frame waited for at most the inference in
    # progress when it arrived, plus its own inference and the (fast) other stages. A FIFO between the
    # camera and the model would hold up to four frames in line: 4-5 periods.
    steady = ages.ages[3:]
    assert statistics.median(steady) < 2 * period, (ages.ages, period)
    assert max(steady) < 2.5 * period, (ages.ages, period)
