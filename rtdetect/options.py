"""Checks of option values, shared by the command line and the functions it calls (cheap to import).

Every check raises ``UsageError`` naming the option, so a wrong value is one line before any model work.
"""
from __future__ import annotations

import math
from typing import Sequence

from .errors import UsageError

STRIDE = 32          # every supported family downsamples by 32 at its coarsest level
MAX_IMGSZ = 4096     # beyond this one input tensor alone needs gigabytes (and the model many more)
DEFAULT_IMGSZ = (640, 640)
DEFAULT_STOP_GRACE_S = 120.0  # rtdetect batch: after a stop, how long workers get to finish their frame and outputs


def fraction(option: str, value: float) -> float:
    """``value`` as a float in [0, 1] (NaN refused)."""
    number = float(value)
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise UsageError(f"{option} must be a number in [0, 1], got {value}")
    return number


def positive(option: str, value: float) -> float:
    """``value`` as a finite float > 0."""
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{option} must be a number > 0, got {value}")
    return number


def at_least(option: str, value: int, minimum: int) -> int:
    """``value`` as an int >= ``minimum``."""
    if int(value) != value or value < minimum:
        raise UsageError(f"{option} must be an integer >= {minimum}, got {value}")
    return int(value)


def imgsz(values: int | Sequence[int], option: str = "--imgsz") -> tuple[int, int]:
    """One size N (square) or (H, W): positive multiples of the stride, at most ``MAX_IMGSZ``."""
    sizes = [values] if isinstance(values, int) else list(values)
    if len(sizes) not in (1, 2):
        raise UsageError(f"{option} takes one size N or two sizes H W, got {len(sizes)} values")
    for size in sizes:
        if int(size) != size or not 0 < size <= MAX_IMGSZ or size % STRIDE:
            raise UsageError(f"{option} {size}: each size must be a multiple of {STRIDE} between "
                             f"{STRIDE} and {MAX_IMGSZ}")
    h, w = (int(sizes[0]), int(sizes[-1]))
    return h, w
