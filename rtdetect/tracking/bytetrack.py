"""ByteTrack-class multi-object tracking: Kalman motion, two-stage association, confirmed identities.

Each ``update`` with one frame's detections:

1. predicts every live track to this frame (a gap of k frames — dropped frames on a live source — is k
   Kalman steps, so uncertainty grows with the real time elapsed);
2. matches the confirmed tracks, lost ones included, to the *high*-score detections (cost ``1 - IoU * score``
   plus a penalty growing with the frames a track has been lost; optimal assignment; same class only);
3. matches the confirmed tracks still unmatched (recently lost ones included) to the *low*-score detections
   (cost ``1 - IoU``): the step that keeps identities through occlusion, where scores drop;
4. matches unconfirmed (one-frame-old) tracks to the remaining high, then low, detections; unmatched ones are
   removed;
5. starts a track for every remaining detection above ``new_track_thresh``; on the tracker's first frame it is
   confirmed at once, later it is confirmed when matched again on the next frame;
6. forgets tracks lost for more than ``track_buffer`` frames at 30 FPS (scaled to ``frame_rate``).

Identities are given when a track is confirmed: int64, from 1, never reused by this tracker (``reset`` keeps
counting). ``update`` returns the input detections that belong to confirmed tracks this frame — their own
boxes, scores and masks, in input order — with ``track_ids`` filled; the others are dropped, as ByteTrack does.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import pairwise_iou
from ..types import Detections
from . import kalman


@dataclass
class ByteTrackConfig:
    """Thresholds of the association (ByteTrack's published defaults)."""

    # ByteTrack publishes 0.5 and 0.6 for these two; at 0.6 --track dropped 26 % of the default model's
    # detections on the bundled demo clip (conf 0.25), at 0.45 12 %, with TUD-Campus MOTA/IDF1 within 0.001
    # at light and medium noise and higher at heavy (tools/mot_eval.py). ``--track-thresh`` sets both.
    high_thresh: float = 0.45      # detections at or above it take part in the first association
    low_thresh: float = 0.1        # detections in [low, high) take part in the second
    new_track_thresh: float = 0.45  # an unmatched detection starts a track at or above it
    match_thresh: float = 0.8      # first association: largest accepted cost 1 - IoU*score
    low_match_thresh: float = 0.5  # second association: largest accepted cost 1 - IoU
    unconfirmed_match_thresh: float = 0.7
    track_buffer: int = 30         # frames at 30 FPS a lost track is kept
    fuse_score: bool = True        # first association cost 1 - IoU * score (else 1 - IoU)
    # A lost track's cost rises by lost_penalty * (frames unseen / frames kept): its prediction drifts, so a
    # track seen recently wins a detection both could take (chosen on the TUD sequences, benchmarks/tracking.py).
    lost_penalty: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.low_thresh <= self.high_thresh <= 1:
            raise ValueError(f"need 0 <= low_thresh <= high_thresh <= 1, got {self.low_thresh}, {self.high_thresh}")
        if self.track_buffer < 1:
            raise ValueError(f"track_buffer must be >= 1, got {self.track_buffer}")


class _Tracks:
    """Struct of arrays for the live tracks (T of them): Kalman state and bookkeeping."""

    def __init__(self) -> None:
        self.mean = np.zeros((0, 8))
        self.cov = np.zeros((0, 8, 8))
        self.class_ids = np.zeros(0, np.int32)
        self.ids = np.zeros(0, np.int64)           # 0 while unconfirmed
        self.last_seen = np.zeros(0, np.int64)     # frame index of the last match

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, which: np.ndarray) -> None:
        for name in ("mean", "cov", "class_ids", "ids", "last_seen"):
            setattr(self, name, getattr(self, name)[which])

    def add(self, mean, cov, class_ids, ids, frame: int) -> None:
        n = len(ids)
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.class_ids = np.concatenate([self.class_ids, class_ids.astype(np.int32)])
        self.ids = np.concatenate([self.ids, ids.astype(np.int64)])
        self.last_seen = np.concatenate([self.last_seen, np.full(n, frame, np.int64)])

    def boxes(self) -> np.ndarray:
        """(T, 4) float32 xyxy predicted boxes."""
        return kalman.xyah_to_xyxy(self.mean[:, :4]).astype(np.float32)


def _match(tracks: np.ndarray, dets: np.ndarray, cost: np.ndarray, thresh: float) -> list[tuple[int, int]]:
    """Optimal assignment of track indices ``tracks`` to detection indices ``dets`` under ``cost``
    (len(tracks), len(dets)); pairs costlier than ``thresh`` (or forbidden: inf) are not matched."""
    if cost.size == 0:
        return []
    finite = np.where(np.isfinite(cost), cost, thresh + 1.0)
    rows, cols = linear_sum_assignment(finite)
    return [(int(tracks[r]), int(dets[c])) for r, c in zip(rows, cols) if finite[r, c] <= thresh]


def _cost(track_boxes, track_cls, det_boxes, det_cls, det_scores=None) -> np.ndarray:
    """1 - IoU (times the detection score when given); inf across classes."""
    sim = pairwise_iou(track_boxes, det_boxes).astype(np.float64)
    if det_scores is not None:
        sim = sim * det_scores[None, :]
    cost = 1.0 - sim
    cost[track_cls[:, None] != det_cls[None, :]] = np.inf
    return cost


class ByteTracker:
    """``update(detections, frame_index=None) -> Detections`` with ``track_ids``; state lives in the instance.

    frame_rate: the source's frames per second, which scales how long lost tracks are kept.
    frame_index: the frame's position in its source; frames skipped between calls (a live source dropping
    stale frames) are predicted through. Without it, calls are taken as consecutive frames.
    """

    def __init__(self, frame_rate: float = 30.0, config: ByteTrackConfig | None = None, *,
                 track_thresh: float | None = None) -> None:
        if not frame_rate > 0:
            raise ValueError(f"frame_rate must be > 0, got {frame_rate}")
        self.config = config or ByteTrackConfig()
        if track_thresh is not None:  # --track-thresh: the score a detection needs to start or lead a track
            self.config = replace(self.config, high_thresh=track_thresh, new_track_thresh=track_thresh,
                                  low_thresh=min(self.config.low_thresh, track_thresh))
        self.max_lost = max(1, int(round(frame_rate / 30.0 * self.config.track_buffer)))
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new source); identities keep counting, so none is ever reused."""
        self._tracks = _Tracks()
        self._frame: int | None = None

    def update(self, detections: Detections, frame_index: int | None = None) -> Detections:
        frame = self._advance(frame_index)
        cfg = self.config
        det_boxes, scores, det_cls = detections.xyxy, detections.scores.astype(np.float64), detections.class_ids
        high = np.flatnonzero(scores >= cfg.high_thresh)
        low = np.flatnonzero((scores >= cfg.low_thresh) & (scores < cfg.high_thresh))
        t = self._tracks
        boxes = t.boxes()
        matched: dict[int, int] = {}  # track index -> detection index

        def associate(track_idx, det_idx, thresh, with_scores):
            cost = _cost(boxes[track_idx], t.class_ids[track_idx], det_boxes[det_idx], det_cls[det_idx],
                         scores[det_idx] if with_scores else None)
            cost += cfg.lost_penalty * ((frame - 1 - t.last_seen[track_idx]) / self.max_lost)[:, None]
            pairs = _match(track_idx, det_idx, cost, thresh)
            matched.update(pairs)
            used = {d for _, d in pairs}
            return np.array([d for d in det_idx if d not in used], np.int64)

        confirmed = t.ids > 0
        pool = np.flatnonzero(confirmed)  # tracked and lost confirmed tracks
        high_left = associate(pool, high, cfg.match_thresh, cfg.fuse_score)
        low_left = associate(np.array([i for i in pool if i not in matched], np.int64), low, cfg.low_match_thresh, False)
        unconfirmed = np.flatnonzero(~confirmed)
        high_left = associate(unconfirmed, high_left, cfg.unconfirmed_match_thresh, cfg.fuse_score)
        associate(np.array([i for i in unconfirmed if i not in matched], np.int64), low_left, cfg.low_match_thresh, False)

        self._apply_matches(matched, det_boxes, det_cls, frame)
        new_dets = high_left[scores[high_left] >= cfg.new_track_thresh] if len(high_left) else high_left
        start_confirmed = frame == self._first_frame
        self._retire(matched, unconfirmed, frame)
        out_det, out_ids = self._output(matched)
        if len(new_dets):
            ids = self._new_ids(len(new_dets)) if start_confirmed else np.zeros(len(new_dets), np.int64)
            mean, cov = kalman.initiate(kalman.xyxy_to_xyah(det_boxes[new_dets]))
            self._tracks.add(mean, cov, det_cls[new_dets], ids, frame)
            if start_confirmed:
                out_det, out_ids = np.concatenate([out_det, new_dets]), np.concatenate([out_ids, ids])
        order = np.argsort(out_det, kind="stable")
        result = detections[out_det[order]]
        return Detections(result.xyxy, result.scores, result.class_ids, result.masks, out_ids[order])

    # -- steps ------------------------------------------------------------------------------------
    def _advance(self, frame_index: int | None) -> int:
        """Move the clock to ``frame_index`` (or the next frame) and predict the tracks through the gap."""
        frame = (0 if self._frame is None else self._frame + 1) if frame_index is None else int(frame_index)
        if self._frame is None:
            self._first_frame = frame
        elif frame <= self._frame:
            raise ValueError(f"frame_index must increase: {frame} after {self._frame} (call reset() for a new source)")
        steps = 1 if self._frame is None else frame - self._frame
        t = self._tracks
        if len(t):
            t.mean, t.cov = kalman.predict(t.mean, t.cov, steps)
        self._frame = frame
        return frame

    def _apply_matches(self, matched: dict[int, int], det_boxes, det_cls, frame: int) -> None:
        t = self._tracks
        if not matched:
            return
        idx = np.fromiter(matched.keys(), np.int64)
        dets = np.fromiter(matched.values(), np.int64)
        t.mean[idx], t.cov[idx] = kalman.update(t.mean[idx], t.cov[idx], kalman.xyxy_to_xyah(det_boxes[dets]))
        newly = idx[t.ids[idx] == 0]
        t.ids[newly] = self._new_ids(len(newly))  # an unconfirmed track matched again: confirmed now
        t.last_seen[idx] = frame

    def _retire(self, matched: dict[int, int], unconfirmed: np.ndarray, frame: int) -> None:
        """Remove unconfirmed tracks not matched again and tracks unseen for more than ``max_lost`` frames;
        ``matched`` (track index → detection) is re-indexed to the tracks that remain."""
        t = self._tracks
        keep = frame - t.last_seen <= self.max_lost
        keep[unconfirmed] &= t.last_seen[unconfirmed] == frame
        remap = np.cumsum(keep) - 1
        kept = {int(remap[k]): d for k, d in matched.items()}  # matched tracks were seen now: all kept
        matched.clear()
        matched.update(kept)
        t.keep(keep)

    def _output(self, matched: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Detection indices matched to confirmed tracks, and those tracks' ids."""
        pairs = [(d, self._tracks.ids[k]) for k, d in matched.items() if self._tracks.ids[k] > 0]
        dets = np.array([d for d, _ in pairs], np.int64)
        ids = np.array([i for _, i in pairs], np.int64)
        return dets, ids

    def _new_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return ids
