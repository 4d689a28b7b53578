"""GPU letterbox: a uint8 BGR frame in device memory -> the network input tensor in device memory.

One kernel (kernels/preprocess.cu) does resize, pad, BGR->RGB, /255 and HWC->NCHW, writing float32 or
float16 straight into the engine's input buffer. It matches ``rtdetect.preprocess.Preprocessor`` within
one grey level (1/255) per value.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..preprocess import letterbox_params
from ..types import Letterbox
from .runtime import KernelRuntime, Stage, as_address, grid_for

_KERNELS = {np.dtype(np.float32): "letterbox_bgr_to_nchw_f32", np.dtype(np.float16): "letterbox_bgr_to_nchw_f16"}


class GpuPreprocess(Stage):
    """Letterbox frames of any size into a (1, 3, h, w) float32 or float16 tensor.

    ``run`` works on device addresses (the TensorRT path); ``run_host`` uploads a NumPy frame and
    downloads the tensor (tests, tools). Host staging buffers of ``run_host`` are kept for the last
    frame size and released by ``close``.
    """

    def __init__(self, runtime: KernelRuntime, input_hw: tuple[int, int], *, dtype=np.float32) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in _KERNELS:
            raise ValueError(f"GpuPreprocess dtype must be float32 or float16, got {self.dtype}")
        if len(input_hw) != 2 or min(int(input_hw[0]), int(input_hw[1])) < 1:
            raise ValueError(f"input_hw must be two positive sizes, got {input_hw}")
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self._runtime = runtime
        runtime.prepare([_KERNELS[self.dtype]])
        self._staging: dict[str, Any] = {}

    @property
    def output_nbytes(self) -> int:
        return 3 * self.input_hw[0] * self.input_hw[1] * self.dtype.itemsize

    def run(self, frame: int, frame_hw: tuple[int, int], frame_pitch: int, output: int, *,
            stream: Any = None) -> Letterbox:
        """Letterbox the frame at ``frame`` ((H, W, 3) uint8 BGR, rows ``frame_pitch`` bytes apart) into
        ``output`` ((1, 3, h, w) of ``dtype``, ``output_nbytes`` bytes). Returns the letterbox map."""
        height, width = int(frame_hw[0]), int(frame_hw[1])
        if height < 1 or width < 1:
            raise ValueError(f"frame_hw must be positive, got {frame_hw}")
        if int(frame_pitch) < 3 * width:
            raise ValueError(f"frame_pitch {frame_pitch} is shorter than a row of {width} BGR pixels")
        if int(frame_pitch) > 2**31 - 1 or height * int(frame_pitch) > 2**40:
            raise ValueError(f"frame of {height} rows x {frame_pitch} bytes is too large")
        box, (new_h, new_w) = letterbox_params((height, width), self.input_hw)
        in_h, in_w = self.input_hw
        args = (as_address(frame, "frame"), int(frame_pitch), height, width, as_address(output, "output"),
                in_h, in_w, new_h, new_w, int(box.pad_y), int(box.pad_x),
                np.float32(height / new_h), np.float32(width / new_w))
        grid = grid_for(in_h * in_w, self._runtime)
        self._runtime.launch(_KERNELS[self.dtype], (grid, 1), self._runtime.block_threads, args, stream)
        return box

    def run_host(self, image: np.ndarray, *, stream: Any = None) -> tuple[np.ndarray, Letterbox]:
        """(H, W, 3) uint8 BGR NumPy frame (row pitch kept) -> ((1, 3, h, w) ``dtype`` array, Letterbox)."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR array, got {getattr(image, 'shape', None)} "
                             f"{getattr(image, 'dtype', type(image).__name__)}")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ValueError(f"empty frame {image.shape}")
        if image.strides[1:] != (3, 1) or image.strides[0] < 3 * image.shape[1]:
            image = np.ascontiguousarray(image)
        pitch = image.strides[0]
        rows = image.shape[0]
        # The buffer spans whole pitched rows, the last one only as far as its pixels go.
        frame_bytes = (rows - 1) * pitch + 3 * image.shape[1]
        frame = self._buffer("frame", frame_bytes)
        output = self._buffer("output", self.output_nbytes)
        # The frame's bytes as they lie in memory, padding between rows included (a view, then a copy).
        span = np.lib.stride_tricks.as_strided(image, shape=(frame_bytes,), strides=(1,), writeable=False)
        self._runtime.upload(frame, np.ascontiguousarray(span).view(np.uint8), stream)
        box = self.run(frame, image.shape[:2], pitch, output, stream=stream)
        host = np.empty((1, 3, *self.input_hw), dtype=self.dtype)
        self._runtime.download(host, output, stream)
        self._runtime.synchronize(stream)
        return host, box

    def _buffer(self, name: str, nbytes: int) -> int:
        held = self._staging.get(name)
        if held is None or held[1] < nbytes:
            if held is not None:
                self._runtime.free(held[0])
            held = (self._runtime.alloc(nbytes), nbytes)
            self._staging[name] = held
        return int(held[0])

    def close(self) -> None:
        staging, self._staging = self._staging, {}
        for buffer, _ in staging.values():
            self._runtime.free(buffer)
