"""``rtdetect models`` says what each family is verified against, and the table claims only what the
tests check: every model it names for Ultralytics 8.4 is in the goldens the comparison test uses."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from rtdetect.models.verified import ULTRALYTICS_TEST, family_checks
from test_models_ultralytics_goldens import GOLDEN


def test_every_ultralytics_claim_is_in_the_goldens(data_dir):
    with np.load(data_dir / GOLDEN, allow_pickle=False) as golden:
        compared = set(json.loads(str(golden["models"]))) | set(json.loads(str(golden["structures"])))
    claimed = {m for check in family_checks() if check.test == ULTRALYTICS_TEST for m in check.models}
    assert claimed == compared
    families = {check.family for check in family_checks()}
    assert {"yolov5", "yolov5u", "yolov7", "yolov8", "yolov9", "yolov10", "yolo11", "yolo12", "yolo26"} == families


def test_models_command_lists_each_family_and_its_reference():
    done = subprocess.run([sys.executable, "-m", "rtdetect.cli", "models"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for check in family_checks():
        assert any(line.startswith(check.family) and check.reference in line and check.test in line
                   for line in lines), check.family
