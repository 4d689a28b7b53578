"""The Engine protocol every backend implements."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ModelError

MAX_INPUT_SIDE = 4096  # network input H and W; YOLO models run at 320-1536, and 4096² already needs GBs


def check_input_hw(input_hw: tuple[int, int], model_path: str) -> None:
    """ModelError unless the network input (H, W) is at most ``MAX_INPUT_SIDE`` on each side."""
    h, w = input_hw
    if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
        raise ModelError(f"{model_path}: network input {h}x{w} is larger than {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE}, "
                         f"the largest rtdetect runs (it would need many GB of memory)")


@runtime_checkable
class Engine(Protocol):
    """A loaded model ready to run one batch.

    ``input_hw``: the network input (H, W); ``input_dtype``: float32 or float16; ``metadata``: the model's
    string metadata (rtdetect's ``rtdetect.*`` keys or a foreign exporter's); ``name``: the backend name.
    ``infer(tensor)`` takes (B, 3, H, W) of ``input_dtype`` and returns the outputs as float32 arrays in the
    model's output order. ``close()`` releases everything; engines are context managers.
    """

    name: str
    input_hw: tuple[int, int]
    input_dtype: np.dtype
    metadata: dict[str, str]

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]: ...

    def close(self) -> None: ...
