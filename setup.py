"""The project's build step beyond pyproject.toml: prebuilt CUDA kernels into the wheel.

``build_py`` also builds (or takes from the digest-keyed cache ``build/kernels-fatbin/``) one fatbin per
kernel source with nvcc (rtdetect/gpu/fatbin.py: cubins for every architecture of its list the nvcc
supports, PTX at the lowest, and a manifest of both and of the CUDA release) and puts them in
``rtdetect/gpu/prebuilt/``, so ``pip wheel .`` carries kernels that load without a compiler. Without nvcc
the wheel carries none (the kernels are then compiled at first use where nvcc exists);
RTDETECT_REQUIRE_FATBIN=1 makes that an error instead (.ci/run sets it).
"""
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _fatbin_module():
    """rtdetect/gpu/fatbin.py, loaded by path: rtdetect's dependencies are not installed at build time."""
    spec = importlib.util.spec_from_file_location("_rtdetect_fatbin", ROOT / "rtdetect" / "gpu" / "fatbin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        built = _fatbin_module().build(ROOT / "kernels", ROOT / "build" / "kernels-fatbin")
        if built is None:
            if os.environ.get("RTDETECT_REQUIRE_FATBIN") == "1":
                raise SystemExit("rtdetect: RTDETECT_REQUIRE_FATBIN=1 but nvcc is not on PATH to build the kernels")
            print("rtdetect: nvcc not on PATH: this build carries no prebuilt CUDA kernels", file=sys.stderr)
            return
        target = Path(self.build_lib) / "rtdetect" / "gpu" / "prebuilt"
        target.mkdir(parents=True, exist_ok=True)
        for path in built.iterdir():
            if path.is_file():
                shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithKernels})
