"""Run rtdetect's command line in this process with fake GPU libraries installed, for CLI tests that start
the real command in a subprocess on a machine without a GPU:

    python tests/trt/fake_cli.py [--trt VERSION] [--trt-cuda MAJOR] [--trt-no-cuda] [--no-pycuda]
                                 [--driver 12040] -- <rtdetect arguments>

``--trt``: a fake ``tensorrt`` (tests/trt/fake_trt.py); ``--trt-cuda``: the CUDA major its PyPI build
claims; ``--trt-no-cuda``: ``Builder()``/``Runtime()`` raise pybind11's nullptr TypeError; ``--no-pycuda``:
``import pycuda`` fails; otherwise the fake pycuda (tests/fake_pycuda.py) whose fake libcuda reports
``--driver`` from ``cuDriverGetVersion``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1] / "tools")]

from fake_pycuda import FakeCudaDriver, modules  # noqa: E402
from fake_trt import make_fake_tensorrt  # noqa: E402


def install(args) -> None:
    from rtdetect.gpu import libcuda
    from rtdetect.inference.tensorrt import deps

    if args.trt:
        sys.modules["tensorrt"] = make_fake_tensorrt(args.trt, cuda_ok=not args.trt_no_cuda)
        deps.tensorrt_cuda_major = lambda: args.trt_cuda
    if args.no_pycuda:
        sys.modules["pycuda"] = sys.modules["pycuda.driver"] = None
        return
    driver = FakeCudaDriver(driver_version=args.driver)
    sys.modules.update(modules(driver))
    libcuda.load = lambda: driver.libcuda


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trt")
    parser.add_argument("--trt-cuda", type=int)
    parser.add_argument("--trt-no-cuda", action="store_true")
    parser.add_argument("--no-pycuda", action="store_true")
    parser.add_argument("--driver", type=int, default=12040)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    install(args)
    from rtdetect.cli import main as rtdetect_main

    return rtdetect_main(args.rest[1:] if args.rest[:1] == ["--"] else args.rest)


if __name__ == "__main__":
    raise SystemExit(main())
