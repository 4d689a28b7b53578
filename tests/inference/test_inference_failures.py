"""An engine that cannot run the model on a frame: the runtime's own error reaches the caller as one
InferenceError, from ``infer`` and through every ``submit`` Future (OpenVINO's asynchronous requests
included), the engine stays usable, a run ends with the frames before the failure written, and the
``--backend auto`` trial rejects such a candidate with its reason."""
import json
import threading
from concurrent.futures import Future
from pathlib import Path

import cv2
import numpy as np
import pytest

import failing_model
from failing_model import fail_on_bright
from rtdetect.capture import open_source
from rtdetect.errors import InferenceError
from rtdetect.inference.onnxruntime import OnnxRuntimeEngine
from rtdetect.inference.openvino import IN_FLIGHT, OpenVinoEngine
from rtdetect.inference.selection import REFERENCE, Candidate, run_trial
from rtdetect.run import CpuModel, Runner
from rtdetect.preprocess import Preprocessor
from rtdetect.sinks import JsonlSink
from rtdetect.trial_inputs import MediaFrames

pytest.importorskip("openvino")

ENGINES = {"onnxruntime": OnnxRuntimeEngine, "openvino": OpenVinoEngine}
WAIT_S = 120  # a generous bound: a settled Future answers at once; the old OpenVINO code never did


@pytest.fixture(scope="module")
def failing_onnx(small_detector, tmp_path_factory):
    return str(fail_on_bright(small_detector, tmp_path_factory.mktemp("failing") / "fail-160.onnx"))


@pytest.fixture(scope="module")
def tensors(data_dir):
    """A padding-grey input (runs), and bus.jpg as the model takes it (fails)."""
    prepare = Preprocessor((160, 160), dtype=np.float32)
    grey, _ = prepare(np.full((160, 160, 3), 114, np.uint8))
    bright, _ = prepare(cv2.imread(str(data_dir / "bus.jpg")))
    return grey, bright


@pytest.mark.parametrize("backend", ENGINES)
def test_a_failed_request_reaches_its_future_and_the_engine_goes_on(failing_onnx, tensors, backend):
    grey, bright = tensors
    with ENGINES[backend](failing_onnx) as engine:
        expected = engine.infer(grey)
        with pytest.raises(InferenceError, match=f"^{backend} could not run the model: .*[Rr]eshape"):
            engine.infer(bright)
        engine.infer(grey)
        futures = [engine.submit(bright), engine.submit(grey)]  # the failing one in flight with a good one
        with pytest.raises(InferenceError, match=f"^{backend} could not run the model: .*[Rr]eshape"):
            futures[0].result(timeout=WAIT_S)
        np.testing.assert_array_equal(futures[1].result(timeout=WAIT_S)[0], expected[0])
        for _ in range(2 * engine.max_in_flight):  # every request slot reused after the failure
            np.testing.assert_array_equal(engine.submit(grey).result(timeout=WAIT_S)[0], expected[0])


def test_openvino_requests_refused_at_start_settle_their_futures(failing_onnx, tensors):
    """A tensor OpenVINO refuses before running (another shape): each Future holds the error, and no
    request is lost (the old queue lost one per refusal and hung once all were gone)."""
    grey, _ = tensors
    wrong = np.zeros((1, 3, 96, 96), np.float32)
    with OpenVinoEngine(failing_onnx) as engine:
        for _ in range(IN_FLIGHT + 1):
            with pytest.raises(InferenceError, match="^openvino could not run the model: "):
                engine.submit(wrong).result(timeout=WAIT_S)
        assert engine.submit(grey).result(timeout=WAIT_S)[0].shape == engine.infer(grey)[0].shape


@pytest.fixture
def dark_then_bright(data_dir, tmp_path):
    return failing_model.dark_then_bright(data_dir, tmp_path / "images")


@pytest.mark.parametrize("backend", ENGINES)
def test_a_run_ends_with_the_error_and_every_frame_before_it_written(failing_onnx, dark_then_bright, tmp_path,
                                                                   backend):
    out = tmp_path / "out.jsonl"
    with ENGINES[backend](failing_onnx) as engine:
        pipeline = CpuModel(engine)
        sink = JsonlSink(str(out), pipeline.names)
        with open_source(str(dark_then_bright)) as source, pytest.raises(InferenceError):
            try:
                Runner(pipeline).run(source, [sink])
            finally:
                sink.close(failed=True)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [Path(r["source"]).name for r in records] == ["1.jpg", "2.jpg"]


class NeverAnswers:
    """A real engine whose submissions are never settled (a request hung in the runtime); ``submitted``
    is set once the pipeline waits on one."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.submitted = threading.Event()

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def submit(self, tensor) -> Future:
        self.submitted.set()
        return Future()


def test_a_stop_ends_a_run_waiting_for_an_inference_result(small_detector, data_dir):
    with OnnxRuntimeEngine(str(small_detector)) as real:
        engine = NeverAnswers(real)
        pipeline = CpuModel(engine)
        stop = threading.Event()
        ended = threading.Event()

        def run() -> None:
            with open_source(str(data_dir / "vtest_3s.mp4")) as source:
                Runner(pipeline).run(source, stop=stop)
            ended.set()

        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        assert engine.submitted.wait(WAIT_S)
        stop.set()
        assert ended.wait(WAIT_S), "the run kept waiting for a result after the stop"


def test_trial_rejects_a_candidate_that_cannot_run_the_model(small_detector, failing_onnx, data_dir):
    """The reference runs the healthy model; OpenVINO gets one it cannot run on these photos."""
    def open_engine(candidate):
        if candidate == REFERENCE:
            return OnnxRuntimeEngine(str(small_detector))
        return OpenVinoEngine(failing_onnx)

    images = [cv2.imread(str(data_dir / name)) for name in ("bus.jpg", "zidane.jpg")]
    failing = Candidate("openvino", "fp32")
    results = {r.candidate: r for r in run_trial([REFERENCE, failing], open_engine, images, MediaFrames(), rounds=1)}
    assert results[REFERENCE].status == "ok" and results[REFERENCE].accepted
    assert results[failing].status != "ok" and not results[failing].accepted
    assert results[failing].reason.startswith("openvino could not run the model: ")
    assert "openvino fp32: unavailable (openvino could not run the model: " in results[failing].describe()


def test_int8_calibration_on_a_model_the_runtime_cannot_run_is_a_model_error(failing_onnx, data_dir, tmp_path):
    """The int8 candidate is calibrated by running the model in ONNX Runtime: its failure is one ModelError
    (the trial then lists the candidate as unavailable), not ONNX Runtime's own exception."""
    from rtdetect.errors import ModelError
    from rtdetect.inference.onnx_tools.quantize import write_int8_qdq

    frames = [MediaFrames().prepare(cv2.imread(str(data_dir / name)), (160, 160), np.dtype(np.float32))
              for name in ("bus.jpg", "zidane.jpg")]
    with pytest.raises(ModelError, match="^INT8 calibration of .*fail-160.onnx failed: .*[Rr]eshape"):
        write_int8_qdq(failing_onnx, tmp_path / "int8.onnx", frames)
    assert not (tmp_path / "int8.onnx").exists()
