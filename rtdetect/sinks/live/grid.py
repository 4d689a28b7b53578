"""Several streams in one live view (``rtdetect --source streams.txt --serve``): each stream's annotated
frame is a tile of one picture, labelled with the stream's name, published through one :class:`LiveSink`.

Tiles are written in the run's consuming thread (one per stream, see ``rtdetect.run.batcher``), so the grid
needs no lock; the picture is composed only while someone watches.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from ...types import Detections, Frame

TILE_HW = (360, 640)   # each stream's tile: its frame fitted inside, aspect kept
LABEL_SCALE = 0.6


class LiveGrid:
    """The tiles of ``names`` (stream names, in list order), ``columns`` = ceil(sqrt(n)), into ``live``
    (a ``LiveSink``, closed by its owner). ``tile(name)`` is the stream's sink."""

    def __init__(self, live, names: Sequence[str], *, tile_hw: tuple[int, int] = TILE_HW) -> None:
        self.live, self.names, self.tile_hw = live, list(names), tile_hw
        self.columns = max(1, math.ceil(math.sqrt(len(self.names))))
        rows = math.ceil(len(self.names) / self.columns)
        self.canvas = np.zeros((rows * tile_hw[0], self.columns * tile_hw[1], 3), np.uint8)
        for name in self.names:
            self._label(name)

    def tile(self, name: str) -> "GridTile":
        return GridTile(self, name)

    def _cell(self, name: str) -> np.ndarray:
        index = self.names.index(name)
        row, column = divmod(index, self.columns)
        h, w = self.tile_hw
        return self.canvas[row * h:(row + 1) * h, column * w:(column + 1) * w]

    def _label(self, name: str) -> None:
        cv2.putText(self._cell(name), name, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE, (255, 255, 255), 1,
                    cv2.LINE_AA)

    def put(self, name: str, frame: Frame, detections: Detections, rendered: np.ndarray) -> None:
        """Stream ``name``'s newest annotated frame ((H, W, 3) uint8 BGR) into its tile, then publish."""
        if self.live.server.viewers:
            cell = self._cell(name)
            h, w = rendered.shape[:2]
            scale = min(cell.shape[0] / h, cell.shape[1] / w)
            fitted = cv2.resize(rendered, (max(1, round(w * scale)), max(1, round(h * scale))),
                                interpolation=cv2.INTER_AREA)
            cell[:] = 0
            cell[:fitted.shape[0], :fitted.shape[1]] = fitted
            self._label(name)
        self.live.write(frame, detections, self.canvas)


class GridTile:
    """One stream's sink in a :class:`LiveGrid`: takes its rendered frames; closing it closes nothing (the
    grid's ``LiveSink`` is closed once, by the run)."""

    needs_render = True

    def __init__(self, grid: LiveGrid, name: str) -> None:
        self.grid, self.name = grid, name

    @property
    def quit_requested(self) -> bool:
        return False

    def write(self, frame: Frame, detections: Detections, rendered: np.ndarray | None) -> None:
        self.grid.put(self.name, frame, detections, rendered)

    def close(self, *, failed: bool = False) -> None:
        """Nothing to finish: the view stays until the run ends."""
