"""The batch manifest without a cluster: hand-edited entries never trusted nor a traceback, a manifest that
is not one refused in one line and left as it is, settings compared on resume, and atomic rewrites."""
from __future__ import annotations

import errno
import json
import resource
import signal
import subprocess
import sys

import pytest

from rtdetect.cluster.manifest import Manifest, ManifestError
from tests.pipeline.cli_helpers import assert_one_line_error, run_cli

SETTINGS = {"model": "m.onnx", "conf": 0.25}


def done_entry(out, name: str = "a.jsonl", settings: dict = SETTINGS) -> dict:
    """A ``done`` entry whose one output exists in ``out`` with the size it lists."""
    (out / name).write_bytes(b'{"frame": 0}\n')
    return {"status": "done", "frames": 1, "error": None, "outputs": {name: (out / name).stat().st_size},
            "settings": settings}


def write_manifest(out, files) -> None:
    (out / "manifest.json").write_text(json.dumps({"version": 1, "source": "x", "settings": SETTINGS,
                                                   "files": files}))


def test_hand_edited_entries_are_not_trusted_and_named(tmp_path):
    good = done_entry(tmp_path)
    damaged = {"string.mp4": "done",
               "outputs-null.mp4": {**good, "outputs": None},
               "no-settings.mp4": {key: value for key, value in good.items() if key != "settings"},
               "no-status.mp4": {key: value for key, value in good.items() if key != "status"},
               "size-text.mp4": {**good, "outputs": {"a.jsonl": "13"}},
               "unknown-status.mp4": {**good, "status": "finished"},
               "list.mp4": [good],
               # an existing file of the right size, but outside the output folder: not this input's output
               "outside.mp4": {**good, "outputs": {str(tmp_path.parent / "elsewhere.jsonl"): 5}},
               "up-and-out.mp4": {**good, "outputs": {"../elsewhere.jsonl": 5}},
               "frames-text.mp4": {**good, "frames": "eight"}}
    (tmp_path.parent / "elsewhere.jsonl").write_text("12345")
    write_manifest(tmp_path, {"good.mp4": good, **damaged})
    manifest = Manifest.load(str(tmp_path), "x", SETTINGS)
    assert manifest.damaged == sorted(damaged)
    assert manifest.complete("good.mp4")
    assert not any(manifest.complete(key) for key in damaged)


def test_entries_of_other_settings_are_not_complete(tmp_path):
    write_manifest(tmp_path, {"a.mp4": done_entry(tmp_path)})
    assert Manifest.load(str(tmp_path), "x", SETTINGS).complete("a.mp4")
    changed = Manifest.load(str(tmp_path), "x", {**SETTINGS, "conf": 0.5})
    assert changed.damaged == [] and not changed.complete("a.mp4")


@pytest.mark.parametrize("text, reason", [("{\"files\": {", "not valid JSON"), ("[1, 2]", "no \"files\" object"),
                                          ("{\"files\": [\"a.mp4\"]}", "no \"files\" object"),
                                          ("[" * 100_000 + "]" * 100_000, "not valid JSON")])
def test_a_manifest_that_is_not_one_is_refused(tmp_path, text, reason):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ManifestError, match=reason):
        Manifest.load(str(tmp_path), "x", SETTINGS)


def test_batch_refuses_an_unreadable_manifest_in_one_line_and_keeps_it(tmp_path, data_dir, small_detector):
    # Refused before Ray starts: no cluster needed.
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"files": {"vtest_3s.mp4": {"status": "done",}}}')
    result = run_cli("batch", "--source", data_dir / "vtest_3s.mp4", "--output-dir", out, "--model", small_detector,
                     "--no-progress")
    assert_one_line_error(result, str(out / "manifest.json"), "not valid JSON", "move it away")
    assert (out / "manifest.json").read_text() == '{"files": {"vtest_3s.mp4": {"status": "done",}}}'
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]  # and no lock file left behind


# Rewrites the manifest of OUT with one more entry, under a file size limit the new manifest exceeds (a full
# disk in effect): the write fails midway.
_RECORD_UNDER_LIMIT = """
import sys
from rtdetect.cluster.manifest import Manifest
manifest = Manifest.load(sys.argv[1], "x", {"model": "m.onnx", "conf": 0.25})
try:
    manifest.record("big.mp4", {"status": "failed", "frames": 0, "outputs": {}, "error": "x" * 100_000})
except OSError as exc:
    print(exc.errno)
"""


def test_a_failed_rewrite_leaves_the_previous_manifest_whole(tmp_path):
    write_manifest(tmp_path, {"a.mp4": done_entry(tmp_path)})
    before = (tmp_path / "manifest.json").read_bytes()

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    result = subprocess.run([sys.executable, "-c", _RECORD_UNDER_LIMIT, str(tmp_path)], capture_output=True,
                            text=True, timeout=120, preexec_fn=limit_file_size)
    assert result.returncode == 0 and result.stdout.strip() == str(errno.EFBIG), result  # the write did fail
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "manifest.json"]  # no partial left


def test_a_model_file_replaced_at_the_same_path_redoes_the_files(tmp_path, small_detector, fall_detection_dir):
    """The manifest records the model file's content, not only its path: a batch resumed after the file was
    replaced by another model kept every output of the old one as complete."""
    import shutil

    from rtdetect.cluster.driver import recorded_settings
    from rtdetect.cluster.worker import BatchSettings

    model = tmp_path / "model.onnx"
    shutil.copy(small_detector, model)
    out = tmp_path / "out"
    out.mkdir()
    before = recorded_settings(BatchSettings(model=str(model)))
    write_manifest(out, {"a.mp4": done_entry(out, settings=before)})
    assert Manifest.load(str(out), "x", recorded_settings(BatchSettings(model=str(model)))).complete("a.mp4")
    shutil.copy(fall_detection_dir / "best_fp16.onnx", model)  # another model, same path
    after = recorded_settings(BatchSettings(model=str(model)))
    assert after["model"] == before["model"] and after != before
    assert not Manifest.load(str(out), "x", after).complete("a.mp4")
    assert "model_sha256" not in recorded_settings(BatchSettings(model="yolov5s-seg"))  # a zoo name is itself
