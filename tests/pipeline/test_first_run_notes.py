"""A first run says what it waits for (issue 27: 11 to 43 s of silence while the model was converted and the
CPU engines timed); a run that finds both in the cache says neither."""
import re

from .cli_helpers import run_cli

CONVERTING = re.compile(r"^rtdetect: converting yolov5s to ONNX at \d+x\d+ \(first use; cached\)$", re.M)
MEASURING = "rtdetect: auto: measuring the CPU engines once for this model and machine"


def test_first_run_names_its_waits_and_a_cached_run_does_not(data_dir, tmp_path):
    fresh_cache = {"RTDETECT_CACHE": str(tmp_path / "cache")}  # the variable the model cache is read from
    args = ("--source", data_dir / "bus.jpg", "--model", "yolov5s", "--imgsz", "160", "--backend", "auto",
            "--json", tmp_path / "out.jsonl")
    first = run_cli(*args, env=fresh_cache)
    assert first.returncode == 0, first.stderr
    assert len(CONVERTING.findall(first.stderr)) == 1, first.stderr
    assert first.stderr.count(MEASURING) == 1, first.stderr
    # each line comes before the wait it announces: the conversion, then the trial that ends in its report
    converting = CONVERTING.search(first.stderr).start()
    assert converting < first.stderr.index(MEASURING) < first.stderr.index(" on this CPU, ")  # the choice
    again = run_cli(*args, env=fresh_cache)
    assert again.returncode == 0, again.stderr
    assert not CONVERTING.search(again.stderr) and MEASURING not in again.stderr, again.stderr
