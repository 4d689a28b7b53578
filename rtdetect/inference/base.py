"""The Engine protocol every backend implements, and the synchronous default of its asynchronous half."""
from __future__ import annotations

from concurrent.futures import Future
from typing import Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import InferenceError, ModelError

MAX_INPUT_SIDE = 4096  # network input H and W; YOLO models run at 320-1536, and 4096² already needs GBs


def check_input_hw(input_hw: tuple[int, int], model_path: str) -> None:
    """ModelError unless the network input (H, W) is at most ``MAX_INPUT_SIDE`` on each side."""
    h, w = input_hw
    if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
        raise ModelError(f"{model_path}: network input {h}x{w} is larger than {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE}, "
                         f"the largest rtdetect runs (it would need many GB of memory)")


def inference_failed(engine: str, reason: str) -> InferenceError:
    """The InferenceError for ``engine`` (its name) failing to run the model; ``reason``: what the runtime
    said, put on one line."""
    return InferenceError(f"{engine} could not run the model: {' '.join(reason.split()) or 'no reason given'}")


@runtime_checkable
class Engine(Protocol):
    """A loaded model ready to run one batch.

    ``input_hw``: the network input (H, W); ``input_dtype``: float32 or float16; ``metadata``: the model's
    string metadata (rtdetect's ``rtdetect.*`` keys or a foreign exporter's); ``name``: the backend name;
    ``precision``: fp32 | fp16 | bf16 | int8, what the engine computes in; ``max_batch``: the largest B
    ``infer`` takes (None: any; 1 for a model exported with a fixed batch of 1).
    ``infer(tensor)`` takes (B, 3, H, W) of ``input_dtype`` and returns the outputs as float32 arrays in the
    model's output order; a failure of the runtime raises ``InferenceError`` (see :func:`inference_failed`).
    ``submit(tensor)`` starts the same work and returns a ``Future`` of those outputs (or of that error: every
    submission's Future is settled, whatever happens to the request);
    up to ``max_in_flight`` submissions may be pending at once (1: ``submit`` runs to completion before it
    returns). ``close()`` releases everything; engines are context managers.
    """

    name: str
    precision: str
    input_hw: tuple[int, int]
    input_dtype: np.dtype
    metadata: dict[str, str]
    max_in_flight: int
    max_batch: int | None

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]: ...

    def submit(self, tensor: np.ndarray) -> Future: ...

    def close(self) -> None: ...


@runtime_checkable
class FrameSupply(Protocol):
    """Frames and their reading, handed to the backends room by the layers above (it reads no media file
    and knows no letterbox, decoder or post-processing): what INT8 calibration and ``--backend auto``'s
    trial run on. :class:`rtdetect.trial_inputs.MediaFrames` is the implementation over files on disk.

    ``name``: what to call the frames in messages; ``identity()``: a string that changes whenever the
    frames would (part of the INT8 and trial cache keys); ``frames(count)``: up to ``count`` frames,
    (H, W, 3) uint8 BGR, spread over the source; ``prepare(image, hw, dtype)``: ``image`` as the engine's
    input, (1, 3, *hw) of ``dtype``, letterboxed as at inference; ``detections(engine, images)``: the
    ``engine``'s Detections on each image (default thresholds, masks included), raising InferenceError
    when the engine cannot run the model.
    """

    name: str

    def identity(self) -> str: ...

    def frames(self, count: int) -> Iterator[np.ndarray]: ...

    def prepare(self, image: np.ndarray, hw: tuple[int, int], dtype: np.dtype) -> np.ndarray: ...

    def detections(self, engine: Engine, images: Sequence[np.ndarray]) -> list: ...


class SynchronousSubmit:
    """``submit`` for engines that run one request at a time: runs ``infer`` now, returns a done Future."""

    max_in_flight = 1

    def submit(self, tensor: np.ndarray) -> Future:
        future: Future = Future()
        try:
            future.set_result(self.infer(tensor))
        except Exception as exc:  # delivered through the Future, as an asynchronous engine would
            future.set_exception(exc)
        return future
