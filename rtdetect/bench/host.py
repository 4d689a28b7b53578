"""What machine and libraries a benchmark ran on (printed and stored next to every figure)."""
from __future__ import annotations

import os
import platform
from importlib import metadata

LIBRARIES = ("onnxruntime", "opencv-python", "numpy", "torch")


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed distribution versions, read from package metadata (nothing is imported)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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
        "libraries": library_versions(),
        "gpu": "not measured",
    }
