"""What machine and libraries a benchmark ran on (printed and stored next to every figure)."""
from __future__ import annotations

import os
import platform

from ..hostinfo import cpu_model, library_versions

LIBRARIES = ("onnxruntime", "openvino", "opencv-python", "numpy", "torch")


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (``uptime``), or None where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def host_info() -> dict:
    """CPU model, core count, OS, Python and library versions; GPU is never guessed."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "libraries": library_versions(LIBRARIES),
        "gpu": "not measured",
    }
