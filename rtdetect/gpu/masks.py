"""GPU instance masks for kept detections, and their translucent blend into the frame.

Kernels in kernels/masks.cu. ``GpuMasks.run`` matches ``rtdetect.masks.process_masks``: logits
(coefficients x protos) are computed only over the proto cells each box samples, then every frame pixel
of the mask is decided with the reference's float32 bilinear sampling; pixels differ from the reference
only where the logit is within rounding of zero. ``GpuMasks.blend`` paints the masks into a BGR frame on
the device, matching ``rtdetect.gpu.reference.blend_masks_reference``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..types import Letterbox
from .nms import DeviceDetections
from .runtime import DeviceBuffers, KernelRuntime, Stage, as_address, grid_for

_LOGITS = {np.dtype(np.float32): "mask_logits_f32", np.dtype(np.float16): "mask_logits_f16"}


class GpuMasks(Stage):
    """Masks (max_det, H, W) uint8 for up to ``max_det`` detections on frames of ``frame_hw``.

    num_masks: coefficients per detection (nm); proto_hw: (mh, mw) of the protos output (nm, mh, mw) of
    ``dtype`` (float32 or float16). Device memory: max_det * H * W bytes of masks plus
    max_det * mh * mw * 4 bytes of logits.
    """

    def __init__(self, runtime: KernelRuntime, *, max_det: int, num_masks: int, proto_hw: tuple[int, int],
                 frame_hw: tuple[int, int], dtype=np.float32) -> None:
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
        runtime.prepare([_LOGITS[self.dtype], "mask_rasterize", "mask_blend"])
        mh, mw = self.proto_hw
        height, width = self.frame_hw
        self._buffers = DeviceBuffers(runtime, {"logits": 4 * max_det * mh * mw,
                                                "masks": max_det * height * width})
        self._host: DeviceBuffers | None = None
        self._host_count = 0

    @property
    def masks(self) -> int:
        """Device address of the (max_det, H, W) uint8 masks."""
        return self._buffers["masks"]

    def _geometry(self, letterbox: Letterbox) -> tuple:
        if tuple(letterbox.source_hw) != self.frame_hw:
            raise ValueError(f"letterbox is for frames of {letterbox.source_hw}, these masks for {self.frame_hw}")
        mh, mw = self.proto_hw
        in_h, in_w = letterbox.input_hw
        height, width = self.frame_hw
        return (mh, mw, np.float32(letterbox.scale), np.float32(letterbox.pad_x), np.float32(letterbox.pad_y),
                np.float32(mw / in_w), np.float32(mh / in_h), width, height)

    def run(self, detections: DeviceDetections, protos: int, letterbox: Letterbox, *, stream: Any = None) -> int:
        """Queue the masks of ``detections`` (its boxes, coefs and count on the device) from the protos at
        ``protos`` ((nm, mh, mw) of ``dtype``). Returns the masks' device address; nothing waits."""
        if detections.num_masks != self.num_masks:
            raise ValueError(f"detections carry {detections.num_masks} mask coefficients, masks expect {self.num_masks}")
        if detections.max_det > self.max_det:
            raise ValueError(f"detections hold up to {detections.max_det} rows, masks only {self.max_det}")
        rt = self._runtime
        geometry = self._geometry(letterbox)
        mh, mw = self.proto_hw
        rows = max(1, min(detections.max_det, rt.grid_blocks))
        rt.launch(_LOGITS[self.dtype], (grid_for(mh * mw, rt), rows), rt.block_threads,
                  (detections.coefs, as_address(protos, "protos"), detections.boxes, detections.count,
                   detections.max_det, self.num_masks, *geometry, self._buffers["logits"]), stream)
        height, width = self.frame_hw
        rt.launch("mask_rasterize", (grid_for(height * width, rt), rows), rt.block_threads,
                  (self._buffers["logits"], detections.boxes, detections.count, detections.max_det, *geometry,
                   self._buffers["masks"]), stream)
        return self.masks

    def blend(self, frame: int, frame_pitch: int, detections: DeviceDetections, palette: int, num_colors: int,
              alpha: float, *, stream: Any = None) -> None:
        """Paint the masks last computed by ``run`` into the (H, W, 3) uint8 BGR frame at ``frame`` (rows
        ``frame_pitch`` bytes apart), colour ``palette[class % num_colors]`` ((num_colors, 3) uint8 BGR)."""
        height, width = self.frame_hw
        if int(frame_pitch) < 3 * width:
            raise ValueError(f"frame_pitch {frame_pitch} is shorter than a row of {width} BGR pixels")
        if num_colors < 1 or not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"need num_colors >= 1 and alpha in [0, 1], got {num_colors}, {alpha}")
        rt = self._runtime
        rt.launch("mask_blend", (grid_for(height * width, rt), 1), rt.block_threads,
                  (as_address(frame, "frame"), int(frame_pitch), height, width, self.masks, detections.class_ids,
                   detections.count, min(detections.max_det, self.max_det), as_address(palette, "palette"),
                   int(num_colors), np.float32(alpha)), stream)

    # -- host conveniences (tests, tools) ---------------------------------------------------------------
    def run_host(self, coefs: np.ndarray, protos: np.ndarray, boxes: np.ndarray, letterbox: Letterbox, *,
                 stream: Any = None) -> np.ndarray:
        """The kernel's raw output for ``rtdetect.masks.process_masks``' inputs: its masks as one (N, H, W) bool
        stack (``BoxMasks.to_full()`` of the reference) for N <= max_det detections."""
        coefs = np.ascontiguousarray(coefs, np.float32).reshape(-1, self.num_masks)
        boxes = np.ascontiguousarray(boxes, np.float32).reshape(-1, 4)
        protos = np.ascontiguousarray(protos)
        n = len(boxes)
        if len(coefs) != n or n > self.max_det:
            raise ValueError(f"need as many coefficient rows as boxes, at most {self.max_det}; got {len(coefs)}, {n}")
        if protos.shape != (self.num_masks, *self.proto_hw) or protos.dtype != self.dtype:
            raise ValueError(f"protos must be {(self.num_masks, *self.proto_hw)} {self.dtype}, got "
                             f"{protos.shape} {protos.dtype}")
        height, width = self.frame_hw
        if n == 0:
            return np.zeros((0, height, width), bool)
        host = self._host_buffers()
        rt = self._runtime
        rt.upload(host["coefs"], coefs, stream)
        rt.upload(host["boxes"], boxes, stream)
        rt.upload(host["protos"], protos, stream)
        rt.upload(host["count"], np.array([n], np.uint32), stream)
        self.run(self._host_detections(host), host["protos"], letterbox, stream=stream)
        self._host_count = n
        out = np.empty((n, height, width), np.uint8)
        rt.download(out, self.masks, stream)
        rt.synchronize(stream)
        return out.view(bool)

    def blend_host(self, image: np.ndarray, class_ids: np.ndarray, palette: np.ndarray, alpha: float, *,
                   stream: Any = None) -> np.ndarray:
        """Blend the masks of the last ``run_host`` into a copy of ``image`` ((H, W, 3) uint8 BGR)."""
        if image.shape != (*self.frame_hw, 3) or image.dtype != np.uint8:
            raise ValueError(f"image must be {(*self.frame_hw, 3)} uint8, got {image.shape} {image.dtype}")
        palette = np.ascontiguousarray(palette, np.uint8).reshape(-1, 3)
        class_ids = np.ascontiguousarray(class_ids, np.int32).reshape(-1)
        if len(class_ids) != self._host_count:
            raise ValueError(f"need one class id per mask of the last run_host ({self._host_count}), "
                             f"got {len(class_ids)}")
        if not 1 <= len(palette) <= 256:
            raise ValueError(f"palette must have 1 to 256 colours, got {len(palette)}")
        host = self._host_buffers()
        rt = self._runtime
        image = np.ascontiguousarray(image)
        rt.upload(host["frame"], image, stream)
        rt.upload(host["palette"], palette, stream)
        rt.upload(host["class_ids"], class_ids, stream)
        rt.upload(host["count"], np.array([len(class_ids)], np.uint32), stream)
        self.blend(host["frame"], 3 * self.frame_hw[1], self._host_detections(host), host["palette"],
                   len(palette), alpha, stream=stream)
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
        if self._host is not None:
            self._host.close()
            self._host = None
