"""Class names from a foreign ONNX file's metadata: odd ``names`` either parse sensibly or are ignored with one
note (classes numbered), never a traceback. Real files: the Ultralytics fall detector with edited metadata."""
import json

import onnx
import pytest

from tests.pipeline.cli_helpers import run_cli

NESTED = "[" * 5000 + "]" * 5000


def with_metadata(source, target, **values):
    """A copy of the ONNX ``source`` at ``target`` with these ``metadata_props`` replaced or added."""
    model = onnx.load(str(source))
    props = {p.key: p.value for p in model.metadata_props} | values
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize("metadata, labels, ignored", [
    ({"names": "{0: 'Normal', '1': 'Fall'}"}, {"Normal", "Fall"}, False),  # int and digit-string keys
    ({"names": "{0: 'Normal', 'x': 'Fall'}"}, {"0", "1"}, True),  # a key that is no index
    ({"names": "{0: 'Fall', '0': 'Normal', 1: 'Other'}"}, {"0", "1"}, True),  # two names for class 0
    ({"names": "{0: ['Normal'], 1: 'Fall'}"}, {"0", "1"}, True),  # a nested name
    ({"names": NESTED}, {"0", "1"}, True),  # nesting too deep for Python's parser
    ({"rtdetect.names": NESTED}, {"0", "1"}, True),  # and for the JSON one
    ({"names": "{0: 'Normal', 1: 'Fall', 2: 'Other'}"}, {"0", "1"}, True),  # 3 names, 2 classes in the output
    ({"rtdetect.names": '["Normal", "Fall"'}, {"0", "1"}, True),  # bad JSON
    ({"rtdetect.names": json.dumps({"0": "Normal", "1": "Fall"})}, {"Normal", "Fall"}, False),
], ids=["mixed-keys", "non-index-key", "two-names-for-one-index", "nested-name", "deep-nesting", "deep-nesting-json", "count-mismatch", "bad-json", "json-dict"])
def test_odd_names_metadata_is_parsed_or_ignored_with_a_note(fall_detection_dir, data_dir, tmp_path, metadata,
                                                             labels, ignored):
    model = with_metadata(fall_detection_dir / "best_fp16.onnx", tmp_path / "edited.onnx", **metadata)
    out = tmp_path / "out.jsonl"
    result = run_cli("--source", data_dir / "bus.jpg", "--model", model, "--backend", "onnxruntime",
                     "--no-progress", "--json", out)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    notes = [line for line in result.stderr.splitlines() if "ignoring the model's class names" in line]
    assert len(notes) == (1 if ignored else 0), result.stderr
    assert all(len(line) < 300 for line in notes)
    detections = json.loads(out.read_text())["detections"]
    assert detections and {d["label"] for d in detections} <= labels


@pytest.mark.parametrize("key, value", [("rtdetect.names", '["Normal",'), ("rtdetect.imgsz", NESTED),
                                        ("rtdetect.stride", "thirty-two")])
def test_unreadable_rtdetect_metadata_is_a_model_error(small_detector, tmp_path, key, value):
    from rtdetect.models import read_onnx_metadata
    from rtdetect.models.errors import ModelError

    edited = with_metadata(small_detector, tmp_path / "edited.onnx", **{key: value})
    with pytest.raises(ModelError, match="unreadable rtdetect metadata"):
        read_onnx_metadata(edited)
