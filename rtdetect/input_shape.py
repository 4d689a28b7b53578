"""Which network input shape (H, W) a run uses: the source's aspect ratio by default, exact on request.

Like Ultralytics' rectangular inference, a frame's long side is scaled to the requested size and the
short side rounded up to the stride, so a 4:3 video runs at 480x640 instead of 640x640 (25% fewer
pixels, the same resolution on the picture) and 16:9 at 384x640 (40% fewer). The request is:

- ``None`` or an int ``N``: long side N (default 640), short side following the source's aspect;
- ``(H, W)``: exactly that shape (``--imgsz 640 640`` forces square).

A source whose frame size is unknown before the first frame, or that has frames of different sizes
(a folder or glob of several images), runs square at N x N: a square input never has less resolution
than a rectangular one of the same long side, whereas a shape made for one image's aspect would shrink
images of another aspect.
"""
from __future__ import annotations

import math

from . import options

DEFAULT_LONG_SIDE = 640
STRIDE = options.STRIDE

Request = int | tuple[int, int] | None


def aspect_input_hw(frame_hw: tuple[int, int], long_side: int, stride: int = STRIDE) -> tuple[int, int]:
    """The (H, W) input for frames of ``frame_hw``: long side ``long_side``, short side scaled by the
    same factor, rounded to a pixel and then up to a multiple of ``stride`` (768x576 → 480x640,
    1920x1080 → 384x640, 1080x1920 → 640x384)."""
    height, width = (int(v) for v in frame_hw)
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {frame_hw}")
    if long_side < stride or long_side % stride:
        raise ValueError(f"image size {long_side} must be a positive multiple of the stride {stride}")
    scale = long_side / max(height, width)
    return tuple(math.ceil(round(side * scale) / stride) * stride for side in (height, width))


def network_input_hw(requested: Request, frame_hw: tuple[int, int] | None) -> tuple[int, int]:
    """The input shape for a ``requested`` size (see module docstring) and a source whose frames are
    ``frame_hw`` (None: unknown or varying). Sizes are checked by ``options.imgsz`` (UsageError)."""
    if isinstance(requested, tuple):
        return options.imgsz(requested)
    long_side = DEFAULT_LONG_SIDE if requested is None else options.imgsz(requested)[0]
    if frame_hw is None:
        return aspect_input_hw((long_side, long_side), long_side)
    return aspect_input_hw(frame_hw, long_side)


def shared_frame_hw(requested: Request, frame_hws: list[tuple[int, int] | None]) -> tuple[int, int] | None:
    """The frame size to choose one input shape for several sources by (``network_input_hw``): their
    common size when every source's frames (known, not None) get the same input shape, else None (square:
    no source's picture loses resolution to another's aspect ratio)."""
    shapes = {network_input_hw(requested, hw) if hw is not None else None for hw in frame_hws}
    return frame_hws[0] if len(shapes) == 1 and None not in shapes else None


def fixed_shape_note(model: str, requested: Request, engine_hw: tuple[int, int]) -> str | None:
    """One line for the user when they asked for an input size that a fixed-shape model cannot take,
    else None (no request, or the model's shape satisfies it: same (H, W), or the same long side)."""
    if requested is None:
        return None
    asked = f"{requested[0]} {requested[1]}" if isinstance(requested, tuple) else str(requested)
    if isinstance(requested, tuple):
        satisfied = tuple(engine_hw) == requested
    else:
        satisfied = max(engine_hw) == requested
    if satisfied:
        return None
    return (f"rtdetect: note: {model} has a fixed {engine_hw[0]}x{engine_hw[1]} input; --imgsz {asked} is ignored "
            f"(export a dynamic model to choose the size)")
