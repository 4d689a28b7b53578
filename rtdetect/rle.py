"""COCO run-length encoding of binary masks (the compressed string form, as in COCO annotation files).

A mask (H, W) is read in column-major order; ``counts`` alternates run lengths starting with zeros. The
string form writes each count (from the third on, as the difference to the count two before) as a
little-endian sequence of 5-bit groups, each carried by one character ``48 + group`` with bit 0x20 set
when more groups follow.
"""
from __future__ import annotations

import numpy as np

from .types import BoxMasks


def run_lengths(crop: np.ndarray, offset: tuple[int, int], frame_hw: tuple[int, int]) -> np.ndarray:
    """Column-major run lengths of the (H, W) frame mask that is False except for ``crop`` ((h, w) bool) at
    ``offset`` (x0, y0), starting with a (possibly empty) run of zeros. O(crop area): the frame is never built.

    Runs of ones never cross a crop column except where the crop spans the frame's full height; there a run
    ending at the bottom of one column and one starting at the top of the next are joined, as in the frame."""
    height, width = frame_hw
    x0, y0 = int(offset[0]), int(offset[1])
    h, w = crop.shape
    columns = np.zeros((w, h + 2), dtype=bool)  # the crop's columns as rows, a False cell at each end:
    columns[:, 1:-1] = crop.T                   # every run starts and ends inside its own column
    flat = columns.ravel()
    cells = np.flatnonzero(flat[1:] != flat[:-1]) + 1  # where a run starts or ends, alternately
    cols, rows = np.divmod(cells, h + 2)
    edges = (x0 + cols) * height + (y0 - 1 + rows)  # the same positions in the column-major frame
    if edges.size:
        joined = np.flatnonzero(edges[1:-1:2] == edges[2::2]) * 2 + 1  # end of a run == start of the next
        edges = np.delete(edges, np.concatenate([joined, joined + 1]))
    bounds = np.concatenate([[0], edges, [height * width]])
    counts = np.diff(bounds)
    return counts[:-1] if counts.size > 1 and counts[-1] == 0 else counts


def _chars(counts: list[np.ndarray]) -> list[str]:
    """Each counts array → its COCO string, all in one vectorised pass: each value (from the third on, its
    difference to the count two before) as 5-bit groups, least significant first, 0x20 when more follow."""
    deltas = []
    for c in counts:
        c = np.asarray(c, dtype=np.int64)
        d = c.copy()
        d[3:] -= c[1:-2]
        deltas.append(d)
    values = np.concatenate(deltas) if deltas else np.zeros(0, np.int64)
    groups = np.empty((values.size, 13), dtype=np.uint8)  # 13 groups of 5 bits hold any int64
    length = np.zeros(values.size, dtype=np.int64)
    done = np.zeros(values.size, dtype=bool)
    rest = values
    for k in range(groups.shape[1]):
        group = rest & 0x1F
        rest = rest >> 5  # arithmetic shift: negative differences end at -1
        more = np.where(group & 0x10, rest != -1, rest != 0)
        groups[:, k] = 48 + (group | (more << 5))
        length[~done] = k + 1
        done |= ~more
        if done.all():
            break
    text = groups[np.arange(groups.shape[1])[None, :] < length[:, None]].tobytes().decode("ascii")
    offsets = np.concatenate([[0], np.cumsum(length)])  # character position of each value
    sizes = np.array([len(d) for d in deltas], dtype=np.int64)
    value_ends = np.cumsum(sizes)
    value_starts = value_ends - sizes
    return [text[a:b] for a, b in zip(offsets[value_starts].tolist(), offsets[value_ends].tolist())]


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


def encode_box_masks(masks: BoxMasks) -> list[dict]:
    """The COCO RLE of each mask's full (H, W) frame mask, ``{"size": [H, W], "counts": str}``, computed from
    the crops in O(sum of crop areas); the strings of all masks are built in one vectorised pass."""
    h, w = masks.frame_hw
    texts = _chars([run_lengths(crop, offset, masks.frame_hw) for crop, offset in zip(masks.crops, masks.offsets)])
    return [{"size": [int(h), int(w)], "counts": text} for text in texts]


def encode_crop(crop: np.ndarray, offset: tuple[int, int], frame_hw: tuple[int, int]) -> dict:
    """The COCO RLE of the (H, W) frame mask that is ``crop`` at ``offset`` (x0, y0) and False elsewhere."""
    return encode_box_masks(BoxMasks((np.asarray(crop, dtype=bool),), np.array([offset], np.int64), frame_hw))[0]


def encode_mask(mask: np.ndarray) -> dict:
    """(H, W) bool → ``{"size": [H, W], "counts": str}``."""
    return encode_crop(np.asarray(mask, dtype=bool), (0, 0), mask.shape)


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
