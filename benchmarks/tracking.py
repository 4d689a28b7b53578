"""rtdetect's ByteTracker against Roboflow's ``trackers`` (ByteTrack, OC-SORT) on MOT ground truth.

    python benchmarks/tracking.py [--seeds 3] [--peers-python /work/venv-trackers/bin/python]

Sequences: TUD-Campus and TUD-Stadtmitte (ground truth shipped in the motmetrics wheel, 25 FPS). Every
tracker gets the same detections, derived from the ground truth with seeded degradation (tools/mot_eval.py:
jitter, misses, low-score detections, false positives, score noise) at three levels; MOTA, IDF1 and ID
switches by motmetrics, averaged over seeds. The peers run in their own venv (benchmarks/tracking_peers.py);
without it only rtdetect is scored. Results: benchmarks/results/tracking.json.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tools"), str(HERE)]

import mot_eval  # noqa: E402
from _common import machine, print_table, save_results  # noqa: E402

SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
FRAME_RATE = 25.0


def peers(detections, python: str) -> dict[str, dict]:
    """Run the peers on ``detections``; tracker name → frame → (ids, boxes)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **{f"{k}_{f}": v for f, (b, s) in detections.items() for k, v in (("boxes", b), ("scores", s))})
        subprocess.run([python, str(HERE / "tracking_peers.py"), str(src), str(dst), str(FRAME_RATE)], check=True)
        data = np.load(dst)
        return {name: {f: (data[f"{name}_ids_{f}"], data[f"{name}_boxes_{f}"]) for f in detections}
                for name in ("bytetrack", "ocsort")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--peers-python", default="/work/venv-trackers/bin/python")
    args = parser.parse_args()
    have_peers = Path(args.peers_python).exists()
    rows, results = [], []
    for seq in SEQUENCES:
        gt = mot_eval.load_gt(mot_eval.sequence_path(seq))
        for level in mot_eval.LEVELS:
            scores: dict[str, list[dict]] = {}
            for seed in range(args.seeds):
                dets = mot_eval.degrade(gt, level, seed)
                runs = {"rtdetect": mot_eval.run_rtdetect(dets, FRAME_RATE)}
                if have_peers:
                    runs.update({f"trackers.{k}": v for k, v in peers(dets, args.peers_python).items()})
                for name, tracks in runs.items():
                    scores.setdefault(name, []).append(mot_eval.score(gt, tracks))
            for name, runs in scores.items():
                mean = {k: float(np.mean([r[k] for r in runs])) for k in ("mota", "idf1", "id_switches")}
                results.append({"sequence": seq, "level": level.name, "tracker": name, **mean, "seeds": args.seeds})
                rows.append([seq, level.name, name, f"{mean['mota']:.3f}", f"{mean['idf1']:.3f}", f"{mean['id_switches']:.1f}"])
    print_table(rows, ["sequence", "degradation", "tracker", "MOTA", "IDF1", "ID switches"])
    levels = [{"name": lv.name, "jitter": lv.jitter, "miss": lv.miss, "weak": lv.weak,
               "false_per_frame": lv.false_per_frame, "score_noise": lv.score_noise} for lv in mot_eval.LEVELS]
    print(save_results("tracking", {"machine": machine(), "levels": levels, "results": results}))


if __name__ == "__main__":
    main()
