"""A send time drawn into a frame's top-left corner, so that a live benchmark can tell how old a frame is
when its detections are written (capture → detections latency), across an encoder, a network and a decoder.

The stamp is one row of 48 cells of ``CELL`` x ``CELL`` pixels, black (0) or white (1), most significant bit
first: 8 sync bits ``SYNC`` then the send time in whole milliseconds of the wall clock (``time.time()``)
modulo 2**40. Cells survive H.264 and JPEG coding; a frame without the sync pattern has no stamp. Sender and
receiver must share a clock (the same machine, e.g. loopback).
"""
from __future__ import annotations

import numpy as np

CELL = 8
SYNC = 0b10110010
TIME_BITS = 40
BITS = 8 + TIME_BITS
WIDTH = BITS * CELL


def _bits(value: int, count: int) -> list[int]:
    return [(value >> (count - 1 - k)) & 1 for k in range(count)]


def draw_stamp(image: np.ndarray, send_time: float) -> None:
    """Draw ``send_time`` (s since the epoch) into ``image`` (H, W, 3) uint8 in place; needs W >= 384, H >= 8."""
    if image.shape[1] < WIDTH or image.shape[0] < CELL:
        raise ValueError(f"a stamp needs a frame of at least {WIDTH}x{CELL}, got {image.shape[1]}x{image.shape[0]}")
    millis = int(round(send_time * 1000)) % (1 << TIME_BITS)
    for k, bit in enumerate(_bits(SYNC, 8) + _bits(millis, TIME_BITS)):
        image[:CELL, k * CELL:(k + 1) * CELL] = 255 if bit else 0


def read_stamp(image: np.ndarray, now: float) -> float | None:
    """The send time (s since the epoch) stamped in ``image``, or None when it carries no stamp.

    ``now`` (s since the epoch) resolves the 2**40 ms wrap-around (35 years).
    """
    if image.shape[1] < WIDTH or image.shape[0] < CELL:
        return None
    centre = image[CELL // 4:CELL - CELL // 4, :WIDTH].reshape(CELL // 2, BITS, CELL, -1)
    levels = centre[:, :, CELL // 4:CELL - CELL // 4].mean(axis=(0, 2, 3))
    bits = (levels > 127).astype(np.int64)
    if int("".join(map(str, bits[:8])), 2) != SYNC:
        return None
    millis = int("".join(map(str, bits[8:])), 2)
    period = 1 << TIME_BITS
    base = (int(now * 1000) // period) * period
    stamped = base + millis
    if stamped > now * 1000 + period / 2:
        stamped -= period
    return stamped / 1000.0
