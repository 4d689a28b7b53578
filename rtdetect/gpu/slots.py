"""Double-buffered frame upload: two slots, each a pinned host buffer and a device buffer for one frame.

Frame k is copied (CPU) into slot k % 2's pinned buffer and uploaded on a separate *copy stream* while the
compute stream still works on frame k - 1 from the other slot; the compute stream then waits for the
upload's event before preprocessing. A slot is reused only after its previous frame's results were
collected, so neither buffer is overwritten while in use. Each slot also holds the pinned buffers the
kept detections are downloaded into, and its event clocks.
"""
from __future__ import annotations

import numpy as np

from .timing import EventClock


class FrameSlot:
    """One upload slot. ``index``: 0 or 1; ``frame_hw``: size of the frame it holds; ``busy``: a frame is
    in flight (staged and not yet collected). ``max_det`` sizes the pinned result buffers."""

    def __init__(self, cuda, index: int, max_det: int) -> None:
        self._cuda = cuda
        self.index = index
        self.capacity = 0
        self.host: np.ndarray | None = None
        self.device = None
        self.frame_hw: tuple[int, int] = (0, 0)
        self.letterbox = None
        self.nms_tiles = 0  # the NMS bitmask's tiles when the frame was launched
        self.busy = False
        self.upload_clock = EventClock(cuda)
        self.clock = EventClock(cuda)
        self.results = {
            "count": cuda.pagelocked_empty((1,), np.uint32),
            "candidates": cuda.pagelocked_empty((1,), np.uint32),
            "tiles": cuda.pagelocked_empty((1,), np.uint32),  # NMS bitmask tiles the frame needed
            "boxes": cuda.pagelocked_empty((max_det, 4), np.float32),
            "scores": cuda.pagelocked_empty((max_det,), np.float32),
            "classes": cuda.pagelocked_empty((max_det,), np.int32),
            "mask_rects": cuda.pagelocked_empty((max_det, 4), np.int32),  # segmentation: crop rectangles
            "mask_info": cuda.pagelocked_empty((2,), np.uint32),  # segmentation: crop bytes, detections
        }

    def reserve(self, nbytes: int) -> bool:
        """Make room for a frame of ``nbytes``; True when the device buffer moved (graphs must be dropped)."""
        if nbytes <= self.capacity:
            return False
        if self.device is not None:
            self.device.free()
        self.host = self._cuda.pagelocked_empty((nbytes,), np.uint8)
        self.device = self._cuda.mem_alloc(nbytes)
        self.capacity = nbytes
        return True

    def stage(self, image: np.ndarray, copy_stream) -> bool:
        """Copy ``image`` ((H, W, 3) uint8 BGR) into the pinned buffer and queue its upload on
        ``copy_stream``. Returns ``reserve``'s answer (did the device buffer move)."""
        height, width = int(image.shape[0]), int(image.shape[1])
        moved = self.reserve(height * width * 3)
        self.frame_hw = (height, width)
        staged = self.image()
        np.copyto(staged, image)
        self.upload_clock.start(copy_stream)
        self._cuda.memcpy_htod_async(self.device, staged, copy_stream)
        self.upload_clock.lap("upload", copy_stream)
        self.busy = True
        return moved

    def image(self) -> np.ndarray:
        """The staged frame, (H, W, 3) uint8 BGR: a view of the pinned buffer (valid until the next ``stage``)."""
        height, width = self.frame_hw
        return self.host[:height * width * 3].reshape(height, width, 3)

    def close(self) -> None:
        if self.device is not None:
            self.device.free()
            self.device = None
        self.host, self.results, self.capacity = None, {}, 0
        self.upload_clock.close()
        self.clock.close()
