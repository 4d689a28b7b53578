"""What machine and libraries this is: the CPU's name and instruction-set flags, installed versions.

Read from /proc/cpuinfo and package metadata (nothing is imported), for the benchmark reports and for
the key of ``--backend auto``'s cached choice (a choice measured on one CPU or library version is never
reused on another).
"""
from __future__ import annotations

import platform
from importlib import metadata


def _cpuinfo_field(name: str) -> str | None:
    """The first ``name : value`` of /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> tuple[str, ...]:
    """The CPU's instruction-set flags (sorted; e.g. avx2, avx512_bf16, amx_tile), () where unknown."""
    return tuple(sorted((_cpuinfo_field("flags") or _cpuinfo_field("features") or "").split()))


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed distribution versions, read from package metadata (nothing is imported)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
