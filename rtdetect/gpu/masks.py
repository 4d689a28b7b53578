"""GPU instance masks for kept detections, box-local, and their translucent blend into the frame.

Kernels in kernels/masks.cu. ``GpuMasks.run`` matches ``rtdetect.masks.process_masks``: one crop per
detection covering exactly its box's pixel range (an empty box: 0x0 at the origin), the crops packed one
after another in one device buffer, logits only over the proto cells each box samples; pixels differ from
the reference only where the logit is within rounding of zero. Memory, work and the copy back are
O(sum of crop areas), and the rasterizing grid is the runtime's ``grid_blocks`` whatever the frame size or
``max_det``. ``GpuMasks.blend`` paints the crops into a BGR frame on the device, matching
``rtdetect.gpu.reference.blend_masks_reference``, on a grid bounded by the crops' pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InferenceError
from ..types import BoxMasks, Letterbox
from .nms import DeviceDetections
from .runtime import DeviceBuffers, KernelRuntime, Stage, as_address, grid_for

CROPS_TOO_LARGE = 2**32 - 1  # kernels/masks.cu RT_CROPS_TOO_LARGE: info[0] of a frame whose crops need more
_LOGITS = {np.dtype(np.float32): "mask_logits_f32", np.dtype(np.float16): "mask_logits_f16"}


@dataclass(frozen=True)
class DeviceMasks:
    """Device addresses of the packed crops (what ``GpuMasks.run`` fills).

    rects (max_det, 4) int32 {x0, y0, w, h} per detection; offsets (max_det + 1,) uint32, crop d's first
    byte; info: 2 uint32 {total bytes the crops need, detections}; crops: ``capacity`` bytes, 0/1, crop d
    stored row by row at offsets[d]. When total > capacity only the first capacity bytes were written.
    """

    rects: int
    offsets: int
    info: int
    crops: int
    capacity: int


def unpack_crops(rects: np.ndarray, packed: np.ndarray, frame_hw: tuple[int, int]) -> BoxMasks:
    """BoxMasks from downloaded crops: rects (n, 4) int32 {x0, y0, w, h}; packed (>= total,) uint8 0/1."""
    crops, start = [], 0
    for _, _, width, height in rects.tolist():
        crops.append(packed[start:start + width * height].reshape(height, width).astype(bool))
        start += width * height
    return BoxMasks(tuple(crops), rects[:, :2].astype(np.int64).reshape(-1, 2), frame_hw)


class GpuMasks(Stage):
    """Box-local masks for up to ``max_det`` detections on frames of ``frame_hw``.

    num_masks: coefficients per detection (nm); proto_hw: (mh, mw) of the protos output (nm, mh, mw) of
    ``dtype`` (float32 or float16); crop_bytes: initial size of the packed crop buffer (default two frames'
    pixels; ``grow`` enlarges it for a frame whose boxes cover more). Device memory: crop_bytes plus
    max_det * mh * mw * 4 bytes of logits (not max_det * H * W).
    """

    def __init__(self, runtime: KernelRuntime, *, max_det: int, num_masks: int, proto_hw: tuple[int, int],
                 frame_hw: tuple[int, int], dtype=np.float32, crop_bytes: int | None = None) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in _LOGITS:
            raise ValueError(f"protos dtype must be float32 or float16, got {self.dtype}")
        if max_det < 1 or num_masks < 1 or min(proto_hw) < 1 or min(frame_hw) < 1:
            raise ValueError(f"need max_det, num_masks, proto_hw and frame_hw >= 1; got {max_det}, {num_masks}, "
                             f"{proto_hw}, {frame_hw}")
        self.max_det, self.num_masks = int(max_det), int(num_masks)
        self.proto_hw = (int(proto_hw[0]), int(proto_hw[1]))
        self.frame_hw = (int(frame_hw[0]), int(frame_hw[1]))
        self._runtime = runtime
        runtime.prepare([_LOGITS[self.dtype], "mask_crops", "mask_rasterize", "mask_blend"])
        mh, mw = self.proto_hw
        self._buffers = DeviceBuffers(runtime, {"logits": 4 * max_det * mh * mw, "rects": 16 * max_det,
                                                "offsets": 4 * (max_det + 1), "info": 8})
        self.crop_bytes = 0
        self._crops: Any = None
        self.grow(int(crop_bytes) if crop_bytes else 2 * self.frame_hw[0] * self.frame_hw[1])
        self._host: DeviceBuffers | None = None
        self._host_count = self._host_pixels = 0

    def grow(self, nbytes: int) -> bool:
        """Make the crop buffer hold at least ``nbytes``; True when it moved (re-run ``run`` for the frame
        that needed it, and drop CUDA graphs that captured the old address). Raises InferenceError for a
        frame whose crops need 4 GiB or more (``CROPS_TOO_LARGE``: the kernels' offsets are 32-bit)."""
        if nbytes >= CROPS_TOO_LARGE:
            height, width = self.frame_hw
            raise InferenceError(f"the masks of one {width}x{height} frame cover 4 GiB of pixels or more (up to "
                                 f"{self.max_det} boxes each up to the whole frame): lower --max-det")
        if nbytes <= self.crop_bytes:
            return False
        crops = self._runtime.alloc(int(nbytes))
        if self._crops is not None:
            self._runtime.free(self._crops)
        self._crops, self.crop_bytes = crops, int(nbytes)
        return True

    def device_masks(self) -> DeviceMasks:
        b = self._buffers
        return DeviceMasks(b["rects"], b["offsets"], b["info"], int(self._crops), self.crop_bytes)

    def _geometry(self, letterbox: Letterbox) -> tuple:
        if tuple(letterbox.source_hw) != self.frame_hw:
            raise ValueError(f"letterbox is for frames of {letterbox.source_hw}, these masks for {self.frame_hw}")
        mh, mw = self.proto_hw
        in_h, in_w = letterbox.input_hw
        return (mh, mw, np.float32(letterbox.scale), np.float32(letterbox.pad_x), np.float32(letterbox.pad_y),
                np.float32(mw / in_w), np.float32(mh / in_h))

    def run(self, detections: DeviceDetections, protos: int, letterbox: Letterbox, *,
            stream: Any = None) -> DeviceMasks:
        """Queue the crops of ``detections`` (boxes, coefs and count on the device) from the protos at
        ``protos`` ((nm, mh, mw) of ``dtype``); nothing waits. The caller reads info[0] and, when it
        exceeds ``crop_bytes``, calls ``grow(info[0])`` and runs again."""
        if detections.num_masks != self.num_masks:
            raise ValueError(f"detections carry {detections.num_masks} mask coefficients, masks expect "
                             f"{self.num_masks}")
        if detections.max_det > self.max_det:
            raise ValueError(f"detections hold up to {detections.max_det} rows, masks only {self.max_det}")
        rt, b = self._runtime, self._buffers
        geometry = self._geometry(letterbox)
        height, width = self.frame_hw
        rt.launch("mask_crops", (1, 1), rt.block_threads,
                  (detections.boxes, detections.count, detections.max_det, width, height, b["rects"], b["offsets"],
                   b["info"]), stream)
        rows = max(1, min(detections.max_det, rt.grid_blocks))
        rt.launch(_LOGITS[self.dtype], (max(1, rt.grid_blocks // rows), rows), rt.block_threads,
                  (detections.coefs, as_address(protos, "protos"), detections.boxes, detections.count,
                   detections.max_det, self.num_masks, *geometry, width, height, b["logits"]), stream)
        rt.launch("mask_rasterize", (rt.grid_blocks, 1), rt.block_threads,
                  (b["logits"], b["rects"], b["offsets"], b["info"], *geometry, self.crop_bytes, int(self._crops)),
                  stream)
        return self.device_masks()

    def blend(self, frame: int, frame_pitch: int, class_ids: int, palette: int, num_colors: int, alpha: float, *,
              pixels: int, stream: Any = None) -> None:
        """Paint the crops last computed by ``run`` (``pixels`` bytes: its info[0], within ``crop_bytes``)
        into the (H, W, 3) uint8 BGR frame at ``frame`` (rows ``frame_pitch`` bytes apart), colour
        ``palette[class_ids[d] % num_colors]`` ((num_colors, 3) uint8 BGR) with opacity ``alpha``;
        class_ids: device address of one int32 per detection, negative for a detection not to paint.
        The grid covers ``pixels`` (the kept crops), never the frame or ``max_det``."""
        if int(frame_pitch) < 3 * self.frame_hw[1]:
            raise ValueError(f"frame_pitch {frame_pitch} is shorter than a row of {self.frame_hw[1]} BGR pixels")
        if num_colors < 1 or not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"need num_colors >= 1 and alpha in [0, 1], got {num_colors}, {alpha}")
        if not 0 <= int(pixels) <= self.crop_bytes:
            raise ValueError(f"pixels must be within the crop buffer's {self.crop_bytes} bytes, got {pixels}")
        rt, b = self._runtime, self._buffers
        rt.launch("mask_blend", (grid_for(pixels, rt), 1), rt.block_threads,
                  (as_address(frame, "frame"), int(frame_pitch), int(self._crops), b["rects"], b["offsets"],
                   b["info"], self.crop_bytes, as_address(class_ids, "class_ids"), as_address(palette, "palette"),
                   int(num_colors), np.float32(alpha)), stream)

    def download_info(self, stream: Any = None) -> tuple[int, int]:
        """(bytes the crops of the last ``run`` need, detections); waits for the stream."""
        info = np.zeros(2, np.uint32)
        self._runtime.download(info, self._buffers["info"], stream)
        self._runtime.synchronize(stream)
        return int(info[0]), int(info[1])

    # -- host conveniences (tests, tools) ---------------------------------------------------------------
    def run_host(self, coefs: np.ndarray, protos: np.ndarray, boxes: np.ndarray, letterbox: Letterbox, *,
                 stream: Any = None) -> BoxMasks:
        """``rtdetect.masks.process_masks`` on the device: the same inputs, BoxMasks out (N <= max_det)."""
        coefs = np.ascontiguousarray(coefs, np.float32).reshape(-1, self.num_masks)
        boxes = np.ascontiguousarray(boxes, np.float32).reshape(-1, 4)
        protos = np.ascontiguousarray(protos)
        n = len(boxes)
        if len(coefs) != n or n > self.max_det:
            raise ValueError(f"need as many coefficient rows as boxes, at most {self.max_det}; got {len(coefs)}, {n}")
        if protos.shape != (self.num_masks, *self.proto_hw) or protos.dtype != self.dtype:
            raise ValueError(f"protos must be {(self.num_masks, *self.proto_hw)} {self.dtype}, got "
                             f"{protos.shape} {protos.dtype}")
        self._geometry(letterbox)
        self._host_count = self._host_pixels = 0
        if n == 0:
            return BoxMasks.empty(self.frame_hw)
        host, rt = self._host_buffers(), self._runtime
        rt.upload(host["coefs"], coefs, stream)
        rt.upload(host["boxes"], boxes, stream)
        rt.upload(host["protos"], protos, stream)
        rt.upload(host["count"], np.array([n], np.uint32), stream)
        self.run(self._host_detections(host), host["protos"], letterbox, stream=stream)
        total, _ = self.download_info(stream)
        if self.grow(total):
            self.run(self._host_detections(host), host["protos"], letterbox, stream=stream)
        self._host_count, self._host_pixels = n, total
        return self.download(n, total, stream)

    def download(self, n: int, total: int, stream: Any = None) -> BoxMasks:
        """The crops of the last ``run`` (``n`` detections, ``total`` bytes <= crop_bytes) as BoxMasks."""
        rects, packed = np.empty((n, 4), np.int32), np.empty(total, np.uint8)
        rt = self._runtime
        if n:
            rt.download(rects, self._buffers["rects"], stream)
        if total:
            rt.download(packed, int(self._crops), stream)
        rt.synchronize(stream)
        return unpack_crops(rects, packed, self.frame_hw)

    def blend_host(self, image: np.ndarray, class_ids: np.ndarray, palette: np.ndarray, alpha: float, *,
                   stream: Any = None) -> np.ndarray:
        """Blend the masks of the last ``run_host`` into a copy of ``image`` ((H, W, 3) uint8 BGR); a negative
        class id hides its mask."""
        if image.shape != (*self.frame_hw, 3) or image.dtype != np.uint8:
            raise ValueError(f"image must be {(*self.frame_hw, 3)} uint8, got {image.shape} {image.dtype}")
        palette = np.ascontiguousarray(palette, np.uint8).reshape(-1, 3)
        class_ids = np.ascontiguousarray(class_ids, np.int32).reshape(-1)
        if len(class_ids) != self._host_count:
            raise ValueError(f"need one class id per mask of the last run_host ({self._host_count}), "
                             f"got {len(class_ids)}")
        if not 1 <= len(palette) <= 256:
            raise ValueError(f"palette must have 1 to 256 colours, got {len(palette)}")
        image = np.ascontiguousarray(image)
        if self._host_count == 0:
            return image.copy()
        host, rt = self._host_buffers(), self._runtime
        rt.upload(host["frame"], image, stream)
        rt.upload(host["palette"], palette, stream)
        rt.upload(host["class_ids"], class_ids, stream)
        self.blend(host["frame"], 3 * self.frame_hw[1], host["class_ids"], host["palette"], len(palette), alpha,
                   pixels=self._host_pixels, stream=stream)
        out = np.empty_like(image)
        rt.download(out, host["frame"], stream)
        rt.synchronize(stream)
        return out

    def _host_buffers(self) -> DeviceBuffers:
        if self._host is None:
            det, nm = self.max_det, self.num_masks
            height, width = self.frame_hw
            self._host = DeviceBuffers(self._runtime, {
                "coefs": 4 * det * nm, "boxes": 16 * det, "class_ids": 4 * det, "count": 4,
                "protos": nm * self.proto_hw[0] * self.proto_hw[1] * self.dtype.itemsize,
                "frame": 3 * height * width, "palette": 3 * 256})
        return self._host

    def _host_detections(self, host: DeviceBuffers) -> DeviceDetections:
        return DeviceDetections(host["boxes"], 0, host["class_ids"], 0, 0, host["coefs"], host["count"],
                                self.max_det, self.num_masks)

    def close(self) -> None:
        self._buffers.close()
        if self._crops is not None:
            self._runtime.free(self._crops)
            self._crops = None
        if self._host is not None:
            self._host.close()
            self._host = None
