"""MOT regression: our tracker on TUD-Campus ground truth with seeded detector degradation.

The floor is what benchmarks/tracking.py measured (benchmarks/results/tracking.json, where Roboflow's
``trackers`` ByteTrack and OC-SORT are scored on the same detections) less a small margin, so a change that
loses identities or detections fails here. Deterministic: fixed seeds, no timing.
"""
import numpy as np
import pytest

import mot_eval

# (level, MOTA floor, IDF1 floor): measured 0.887/0.940, 0.764/0.866 (mean of seeds 0-2), minus 0.02.
FLOORS = [("light", 0.867, 0.92), ("medium", 0.744, 0.846)]


@pytest.mark.parametrize("level_name, mota_floor, idf1_floor", FLOORS)
def test_tud_campus(level_name, mota_floor, idf1_floor):
    gt = mot_eval.load_gt(mot_eval.sequence_path("TUD-Campus"))
    level = next(lv for lv in mot_eval.LEVELS if lv.name == level_name)
    runs = [mot_eval.score(gt, mot_eval.run_rtdetect(mot_eval.degrade(gt, level, seed))) for seed in range(3)]
    assert np.mean([r["mota"] for r in runs]) >= mota_floor
    assert np.mean([r["idf1"] for r in runs]) >= idf1_floor


def test_perfect_detections_give_perfect_tracks():
    gt = mot_eval.load_gt(mot_eval.sequence_path("TUD-Campus"))
    perfect = {f: (boxes, np.full(len(boxes), 0.9, np.float32)) for f, (_, boxes) in gt.items()}
    result = mot_eval.score(gt, mot_eval.run_rtdetect(perfect))
    assert result["id_switches"] == 0 and result["mota"] > 0.95 and result["idf1"] > 0.95
