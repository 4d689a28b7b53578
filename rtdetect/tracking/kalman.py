"""Constant-velocity Kalman filter over boxes in (cx, cy, aspect, height) space, batched over tracks.

State (8,): ``cx, cy, a, h, vcx, vcy, va, vh`` with ``a = w / h``; velocities are per frame. Process and
measurement noise scale with the box height (a far, small object moves fewer pixels), the choice of the
SORT/DeepSORT/ByteTrack family. Every function takes and returns float64 arrays and never modifies its input.
"""
from __future__ import annotations

import numpy as np

_POS = 1.0 / 20   # position noise per unit of box height
_VEL = 1.0 / 160  # velocity noise per unit of box height
_MOTION = np.eye(8) + np.eye(8, k=4)  # x' = x + v, one frame
_PROJECT = np.eye(4, 8)


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) x1 y1 x2 y2 → (N, 4) float64 cx cy a h (zero-height boxes get a tiny height, not a NaN)."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], np.maximum(b[:, 3] - b[:, 1], 1e-6)
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, 4) cx cy a h → (N, 4) float64 x1 y1 x2 y2."""
    m = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
    w, h = m[:, 2] * m[:, 3], m[:, 3]
    return np.stack([m[:, 0] - w / 2, m[:, 1] - h / 2, m[:, 0] + w / 2, m[:, 1] + h / 2], axis=1)


def initiate(measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) xyah measurements → means (N, 8), covariances (N, 8, 8); velocity unknown."""
    z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
    h = z[:, 3]
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    std = np.stack([2 * _POS * h, 2 * _POS * h, np.full_like(h, 1e-2), 2 * _POS * h,
                    10 * _VEL * h, 10 * _VEL * h, np.full_like(h, 1e-5), 10 * _VEL * h], axis=1)
    return mean, _diag(std**2)


def predict(mean: np.ndarray, cov: np.ndarray, steps: np.ndarray | int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Advance (N, 8) means and (N, 8, 8) covariances by ``steps`` frames each (int or (N,) ints >= 1).

    Several steps are applied one frame at a time, so the uncertainty of a track unseen for k frames
    (dropped frames, occlusion) grows as it would have frame by frame."""
    mean, cov = mean.copy(), cov.copy()
    steps = np.broadcast_to(np.asarray(steps, dtype=np.int64), (len(mean),))
    for k in range(int(steps.max(initial=0))):
        live = steps > k
        if not live.any():
            break
        h = mean[live, 3]
        std = np.stack([_POS * h, _POS * h, np.full_like(h, 1e-2), _POS * h,
                        _VEL * h, _VEL * h, np.full_like(h, 1e-5), _VEL * h], axis=1)
        mean[live] = mean[live] @ _MOTION.T
        cov[live] = _MOTION @ cov[live] @ _MOTION.T + _diag(std**2)
    return mean, cov


def update(mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct (N, 8) means / (N, 8, 8) covariances with (N, 4) xyah measurements, one per track."""
    z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
    h = mean[:, 3]
    noise = _diag(np.stack([_POS * h, _POS * h, np.full_like(h, 1e-1), _POS * h], axis=1) ** 2)
    projected_cov = _PROJECT @ cov @ _PROJECT.T + noise                       # (N, 4, 4)
    cross = cov @ _PROJECT.T                                                  # (N, 8, 4)
    gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)  # (N, 8, 4)
    innovation = z - mean[:, :4]
    new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    new_cov = cov - gain @ projected_cov @ gain.transpose(0, 2, 1)
    return new_mean, new_cov


def _diag(values: np.ndarray) -> np.ndarray:
    """(N, k) → (N, k, k) diagonal matrices."""
    out = np.zeros((*values.shape, values.shape[-1]))
    idx = np.arange(values.shape[-1])
    out[:, idx, idx] = values
    return out
