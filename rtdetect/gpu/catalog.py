"""Every kernel entry point: its source file and its parameter types.

The type codes are pycuda's ``Function.prepare`` codes: ``P`` a device pointer, ``i`` int32, ``I`` uint32,
``f`` float32. The same table drives pycuda launches and the CPU emulator; the tests check it against the
``extern "C" __global__`` declarations in ``kernels/*.cu`` (names) and against the emulator's compiled
signatures (types), so a drift between Python and CUDA fails a test instead of corrupting memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .fatbin import SOURCE_FILES  # noqa: F401 (the kernel source files, listed once in fatbin.py)


@dataclass(frozen=True)
class KernelSpec:
    name: str
    source: str  # file name in kernels/
    arg_types: str  # one pycuda type code per parameter


_DECODE = "Piii" + "f" + "PPPPP" + "I"
_GATHER = "PPPPPPP" + "iii" + "fffff" + "i" + "PPPPP"
_LOGITS = "PPPPIiii" + "fffff" + "iiP"

_SPECS = (
    KernelSpec("letterbox_bgr_to_nchw_f32", "preprocess.cu", "PiiiPiiiiiiff"),
    KernelSpec("letterbox_bgr_to_nchw_f16", "preprocess.cu", "PiiiPiiiiiiff"),
    KernelSpec("decode_v8_f32", "decode.cu", _DECODE),
    KernelSpec("decode_v8_f16", "decode.cu", _DECODE),
    KernelSpec("decode_v5_f32", "decode.cu", _DECODE),
    KernelSpec("decode_v5_f16", "decode.cu", _DECODE),
    KernelSpec("decode_e2e_f32", "decode.cu", _DECODE),
    KernelSpec("decode_e2e_f16", "decode.cu", _DECODE),
    KernelSpec("nms_sort", "nms.cu", "PPPPIiiPPPP"),
    KernelSpec("nms_segments", "nms.cu", "PPPIPPP"),
    KernelSpec("nms_mask", "nms.cu", "PPPPPIfP"),
    KernelSpec("nms_scan", "nms.cu", "PPPPPPIIPP"),
    KernelSpec("nms_select", "nms.cu", "PPPIPIIPP"),
    KernelSpec("nms_gather_f32", "nms.cu", _GATHER),
    KernelSpec("nms_gather_f16", "nms.cu", _GATHER),
    KernelSpec("mask_logits_f32", "masks.cu", _LOGITS),
    KernelSpec("mask_logits_f16", "masks.cu", _LOGITS),
    KernelSpec("mask_crops", "masks.cu", "PPIiiPPP"),
    KernelSpec("mask_rasterize", "masks.cu", "PPPPiifffffIP"),
    KernelSpec("mask_blend", "masks.cu", "PiPPPPIPPif"),
)

KERNELS: MappingProxyType = MappingProxyType({spec.name: spec for spec in _SPECS})


def kernel_spec(name: str) -> KernelSpec:
    """The spec of kernel ``name``; KeyError names the known kernels when there is none."""
    try:
        return KERNELS[name]
    except KeyError:
        raise KeyError(f"no kernel named {name!r}; known: {', '.join(sorted(KERNELS))}") from None
