"""Translucent masks painted on the device, for the GPU pipeline's rendered output (``--save``, ``--show``,
``--serve``; never for JSONL-only runs).

After a segmentation frame's first host wait the host knows the kept count, the crops' total size, their
rectangles and class ids, so the blend is queued with a grid bounded by the kept crops' pixels
(``GpuMasks.blend``), into the frame the upload slot holds on the device (preprocessing has read it by then:
same stream). Only the rows the painted masks span come back, into the slot's pinned upload buffer, which
still holds the rest of the frame as it was uploaded; the pipeline's second host wait covers the copy.
Palette and opacity are the CPU renderer's (``rtdetect.annotate``), and the pixels are
``rtdetect.gpu.reference.blend_masks_reference``'s.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..annotate import MASK_ALPHA, PALETTE_BGR
from .masks import GpuMasks
from .runtime import DeviceBuffers, KernelRuntime


class MaskPainter:
    """Paints up to ``max_det`` masks per frame; device memory: the palette and one int32 per detection."""

    def __init__(self, runtime: KernelRuntime, max_det: int) -> None:
        self._runtime = runtime
        self._buffers = DeviceBuffers(runtime, {"palette": PALETTE_BGR.nbytes, "classes": 4 * int(max_det)})
        self._classes = runtime.host_empty((int(max_det),), np.int32)
        palette = runtime.host_empty(PALETTE_BGR.shape, np.uint8)
        palette[...] = PALETTE_BGR
        runtime.upload(self._buffers["palette"], palette)
        runtime.synchronize()

    def paint(self, masks: GpuMasks, frame: int, image: np.ndarray, class_ids: np.ndarray, rects: np.ndarray,
              pixels: int, *, stream: Any = None) -> bool:
        """Queue the blend of ``masks``' last crops into the device frame at ``frame`` and the copy of the rows
        they span into ``image`` ((H, W, 3) uint8 BGR, page-locked, holding that frame as uploaded); nothing
        waits. class_ids: (n,) int32, negative for a detection not to paint; rects: (n, 4) int32 {x0, y0, w, h}
        of the crops; pixels: their total bytes (info[0]). False (nothing queued) when no painted crop has a
        pixel; after the stream's next sync ``image`` is the painted frame."""
        shown = (class_ids >= 0) & (rects[:, 2] > 0) & (rects[:, 3] > 0)
        if not shown.any():
            return False
        n, rt = len(class_ids), self._runtime
        self._classes[:n] = class_ids
        rt.upload(self._buffers["classes"], self._classes[:n], stream)
        row = 3 * image.shape[1]
        masks.blend(frame, row, self._buffers["classes"], self._buffers["palette"], len(PALETTE_BGR), MASK_ALPHA,
                    pixels=pixels, stream=stream)
        top = int(rects[shown, 1].min())
        bottom = int((rects[shown, 1] + rects[shown, 3]).max())
        rt.download(image.reshape(-1)[top * row:bottom * row], int(frame) + top * row, stream)
        return True

    def close(self) -> None:
        self._buffers.close()
        self._classes = None
