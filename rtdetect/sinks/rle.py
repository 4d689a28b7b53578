"""COCO run-length encoding of binary masks (the compressed string form, as in COCO annotation files).

A mask (H, W) is read in column-major order; ``counts`` alternates run lengths starting with zeros. The
string form writes each count (from the third on, as the difference to the count two before) as a
little-endian sequence of 5-bit groups, each carried by one character ``48 + group`` with bit 0x20 set
when more groups follow.
"""
from __future__ import annotations

import numpy as np


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """Column-major run lengths of a (H, W) bool mask, starting with a (possibly empty) run of zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    counts = np.diff(bounds)
    return np.concatenate([[0], counts]) if flat[0] else counts


def encode_counts(counts: np.ndarray) -> str:
    out: list[str] = []
    for i, value in enumerate(int(c) for c in counts):
        x = value - int(counts[i - 2]) if i > 2 else value
        while True:
            group = x & 0x1F
            x >>= 5  # arithmetic shift: negative differences end at -1
            more = x != -1 if group & 0x10 else x != 0
            out.append(chr(48 + (group | 0x20 if more else group)))
            if not more:
                break
    return "".join(out)


def decode_counts(text: str) -> np.ndarray:
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        x, shift, more = 0, 0, True
        while more:
            group = ord(text[pos]) - 48
            x |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            pos += 1
            shift += 5
            if not more and group & 0x10:
                x |= -1 << shift  # sign-extend
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return np.asarray(counts, dtype=np.int64)


def encode_mask(mask: np.ndarray) -> dict:
    """(H, W) bool → ``{"size": [H, W], "counts": str}``."""
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": encode_counts(run_lengths(mask))}


def decode_mask(rle: dict) -> np.ndarray:
    """Inverse of ``encode_mask``: → (H, W) bool."""
    h, w = rle["size"]
    counts = decode_counts(rle["counts"])
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    if flat.size != h * w:
        raise ValueError(f"RLE counts sum to {flat.size}, expected {h}x{w}={h * w}")
    return flat.reshape((h, w), order="F")
