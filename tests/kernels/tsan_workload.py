"""Every kernel once, on the emulator library given as argv[1] (a ThreadSanitizer build): run by
test_data_races.py in a child process with libtsan preloaded. Prints "ok" at the end."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "tools"), str(HERE.parents[1])]

from kernels_emulator import EmulatedRuntime, KernelLibrary  # noqa: E402
from rtdetect.gpu import GpuDecode, GpuMasks, GpuNms, GpuPreprocess  # noqa: E402
from rtdetect.preprocess import letterbox_params  # noqa: E402
from test_decode_kernel import make_prediction  # noqa: E402
from test_masks_kernel import random_case  # noqa: E402
from test_nms_kernel import random_boxes  # noqa: E402


def main(library: str) -> None:
    rng = np.random.default_rng(0)
    for threads, blocks in ((64, 2), (128, 3)):
        rt = EmulatedRuntime(KernelLibrary(Path(library)), block_threads=threads, grid_blocks=blocks)
        with GpuPreprocess(rt, (64, 64), dtype=np.float16) as stage:
            stage.run_host(rng.integers(0, 256, (50, 71, 3), dtype=np.uint8))
        for layout in ("v5", "v8", "e2e"):
            prediction = make_prediction(layout, 400, 3, 2, np.float32, rng)
            with GpuDecode(rt, layout=layout, num_classes=3, num_candidates=400, num_masks=2, capacity=100) as stage:
                stage.run_host(prediction, letterbox_params((90, 120), (640, 640))[0], 0.25)
        for n in (300, 900):  # nms_sort's block sort (n <= 512), then its radix passes
            with GpuNms(rt, capacity=1024, max_det=300, num_classes=3) as stage:
                stage.run_host(random_boxes(rng, n), rng.random(n).astype(np.float32),
                               rng.integers(0, 3, n).astype(np.int32), 0.5)
        coefs, protos, boxes, box = random_case(rng, (40, 50), (64, 64), 4, 3)
        with GpuMasks(rt, max_det=3, num_masks=4, proto_hw=protos.shape[1:], frame_hw=(40, 50)) as stage:
            stage.run_host(coefs, protos, boxes, box)
            stage.blend_host(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), np.array([0, 1, 2]),
                             np.full((3, 3), 200, np.uint8), 0.5)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
