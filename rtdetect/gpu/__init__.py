"""The GPU path: the CUDA device, rtdetect's own kernels for preprocess, decode, NMS and masks (launched with
pycuda), and the fused pipeline that runs them around a TensorRT engine's device buffers.

Modules: ``errors`` (CudaUnavailableError, the one install hint), ``libcuda`` (driver calls through ctypes:
version, context stack), ``device`` (the one pycuda import, device facts, ``PrimaryContext``: the one owner
of the primary context), ``catalog`` / ``sources`` / ``fatbin`` / ``compile`` / ``runtime`` / ``cuda_runtime``
(the kernel runtime), ``preprocess`` / ``decode`` / ``nms`` / ``masks`` (the stages), ``processor``
(``GpuProcessor``) with ``slots`` (double-buffered upload), ``timing`` (CUDA events), ``graph_cache`` and ``cuda_graphs``
(CUDA graph capture through the driver API). Layering: this package needs only ``types`` and the CPU
stages; the TensorRT backend (``rtdetect.inference.tensorrt``) builds on its device context, and the
fused pipeline takes the engine it is given (anything with a ``runner`` exposing device buffers).

Tensors stay on the device from the raw frame to the kept detections: each stage takes and returns device
addresses (ints; pycuda ``DeviceAllocation``s convert), so the TensorRT backend chains
``GpuPreprocess -> engine -> GpuDecode -> GpuNms -> GpuMasks`` on one stream and copies back only the kept
detections and their masks. Every stage also has a ``run_host`` for NumPy in, NumPy out.

Design choices:

* **Kernels ship prebuilt**: the wheel carries one fatbin per kernel source (``fatbin.py``: cubins for
  sm_75/86/87/89/90 plus PTX for newer GPUs, built by setup.py's build step), loaded with no compiler;
  fatbins built from other sources (an edited checkout) or not covering the GPU fall back to nvcc through
  pycuda (``compile.py``), once per process. CI proves every kernel compiles with nvcc for those
  architectures (tests/kernels/test_nvcc_compile.py) and that the wheel's fatbins load
  (tests/kernels/test_prebuilt.py).
* **Explicit context and stream**: one ``PrimaryContext`` (device.py) retains the device's primary context
  (shared with the CUDA runtime, PyTorch and TensorRT) and pushes/pops it around each call; the kernel
  runtime and the TensorRT runner share it on the GPU pipeline; every stage method takes the caller's
  ``stream``. Never ``pycuda.autoinit``.
* **Lazy imports**: importing this package never imports pycuda; creating a ``CudaRuntime`` without pycuda
  or a GPU raises ``CudaUnavailableError`` saying what to install.
* **Proven without a GPU**: the same kernel sources and the same stage classes run on the CPU under an
  emulator (``kernels/emulation``, ``tools/kernels_emulator.py``) in the parity tests.
"""
from __future__ import annotations

from .catalog import KERNELS, KernelSpec
from .cuda_runtime import CudaRuntime
from .decode import DeviceCandidates, GpuDecode, HostCandidates, download_candidates
from .device import DeviceInfo, PrimaryContext, import_driver, query_device
from .errors import INSTALL_HINT, CudaUnavailableError
from .masks import GpuMasks
from .nms import DeviceDetections, GpuNms, HostDetections, download_detections
from .preprocess import GpuPreprocess
from .reference import blend_masks_reference
from .runtime import KernelRuntime
from .sources import kernel_source, kernels_dir

__all__ = [
    "INSTALL_HINT", "KERNELS", "CudaRuntime", "CudaUnavailableError", "DeviceCandidates", "DeviceDetections",
    "DeviceInfo", "PrimaryContext", "import_driver", "query_device",
    "GpuDecode", "GpuMasks", "GpuNms", "GpuPreprocess", "HostCandidates", "HostDetections", "KernelRuntime",
    "KernelSpec", "blend_masks_reference", "download_candidates", "download_detections", "kernel_source",
    "kernels_dir",
]
