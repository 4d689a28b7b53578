"""A restricted unpickler for PyTorch ``.pt`` zip checkpoints that never runs the file's code.

A ``.pt`` file is a zip: ``<prefix>/data.pkl`` (a pickle), ``<prefix>/data/<key>`` (raw tensor
storages) and optionally ``<prefix>/byteorder``. A normal ``torch.load`` imports and calls whatever
globals the pickle names. :class:`SafeUnpickler` instead resolves every global through an
allow-list:

- model classes (``models.*``, ``ultralytics.*``, ``torch.nn.modules.*``) become inert
  :class:`Record` types: instances only store their pickled state (their ``__dict__``);
- tensors are rebuilt here from the zip storages (``_rebuild_tensor_v2``/``_rebuild_parameter``);
- a few plain containers and constants (``OrderedDict``, ``set``, ``torch.Size``, dtypes, ...);
- ``getattr`` (YOLOv5-seg pickles ``getattr(Detect, "forward")``) returns an inert placeholder;
- any other global raises :class:`UnsafeCheckpointError` naming it; nothing is executed.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from typing import Any

import torch

from .errors import CheckpointFormatError, UnsafeCheckpointError

RECORD_PREFIXES = ("models.", "ultralytics.", "torch.nn.modules.", "utils.")
STORAGE_DTYPES = {
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}
TORCH_DTYPES = {
    name: getattr(torch, name) for name in (
        "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
}
INERT_DATA = frozenset({  # plain data whose values we never need: kept as records, never called
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("argparse", "Namespace"), ("types", "SimpleNamespace"),
    ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("pathlib", "Path"),
})


class Record:
    """Inert stand-in for an instance of a pickled class. ``state`` is its pickled state."""

    source_module = ""
    source_name = ""
    args: tuple[Any, ...] = ()
    state: Any = None

    def __init__(self, *args: Any) -> None:  # REDUCE-style construction: only store the args
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    @classmethod
    def qualname(cls) -> str:
        return f"{cls.source_module}.{cls.source_name}"

    @property
    def attrs(self) -> dict[str, Any]:
        """The instance ``__dict__`` (first item when the state is a (dict, slots) pair)."""
        state = self.state
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]
        return state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"<Record {self.qualname()}>"


def record_new(cls: type, *args: Any) -> Record:  # noqa: D401 - used as NEWOBJ target
    """Instance creation for record types without running any constructor."""
    return object.__new__(cls)


@dataclass(frozen=True)
class AttributePlaceholder:
    """What ``getattr(obj, name)`` in a pickle becomes: the pair, never the attribute."""

    obj: Any
    name: str


@dataclass(frozen=True)
class StorageRef:
    """A zip storage: its key, element dtype and element count."""

    key: str
    dtype: torch.dtype
    numel: int


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """Protocol-2 pickles may use Python 2 names (``__builtin__``, ``commands``): map them as the
    default unpickler would, so allow-list checks and error messages see the real global."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _latin1_bytes(text: Any, encoding: str = "utf-8") -> bytes:
    """Protocol-2 pickles store ``bytes`` as ``_codecs.encode(text, "latin1")``; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError(f"checkpoint calls _codecs.encode with {encoding!r}; refusing")
    return text.encode("latin-1")


def _placeholder_getattr(obj: Any, name: Any, *default: Any) -> AttributePlaceholder:
    return AttributePlaceholder(obj, str(name))


class SafeUnpickler(pickle.Unpickler):
    """Unpickler over one checkpoint zip; see the module docstring for the allow-list."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, big_endian: bool) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._big_endian = big_endian
        self._storages: dict[str, torch.Tensor] = {}
        self._record_types: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str) -> Any:
        module, name = _python3_name(module, name)
        special = self._special_global(module, name)
        if special is not None:
            return special
        if (module, name) in INERT_DATA or module.startswith(RECORD_PREFIXES):
            return self._record_type(module, name)
        raise UnsafeCheckpointError(
            f"checkpoint refers to global '{module}.{name}', which is not allowed (loading it "
            f"could run code); refusing to load")

    def _special_global(self, module: str, name: str) -> Any:
        table: dict[tuple[str, str], Any] = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
            ("builtins", "getattr"): _placeholder_getattr,
            ("_codecs", "encode"): _latin1_bytes,
            ("torch", "Size"): torch.Size, ("torch", "device"): torch.device,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        }
        if (module, name) in table:
            return table[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if module == "torch" and name in TORCH_DTYPES:
            return TORCH_DTYPES[name]
        return None

    def _record_type(self, module: str, name: str) -> type:
        key = (module, name)
        if key not in self._record_types:
            namespace = {"source_module": module, "source_name": name, "__new__": record_new}
            self._record_types[key] = type(name, (Record,), namespace)
        return self._record_types[key]

    def persistent_load(self, pid: Any) -> StorageRef:
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
            raise CheckpointFormatError(f"unsupported persistent id in checkpoint: {pid!r}")
        _, dtype, key, _location, numel = pid
        if not isinstance(dtype, torch.dtype):
            raise CheckpointFormatError(f"unsupported storage type in checkpoint: {dtype!r}")
        return StorageRef(str(key), dtype, int(numel))

    def _storage(self, ref: StorageRef) -> torch.Tensor:
        if ref.key not in self._storages:
            self._storages[ref.key] = read_storage(self._archive, f"{self._prefix}/data/{ref.key}",
                                                   ref, self._big_endian)
        return self._storages[ref.key]

    def _rebuild_tensor_v2(self, storage: Any, offset: int, size: Any, stride: Any,
                           requires_grad: bool = False, hooks: Any = None,
                           metadata: Any = None) -> torch.Tensor:
        if not isinstance(storage, StorageRef):
            raise CheckpointFormatError("tensor without a storage in checkpoint")
        flat = self._storage(storage)
        size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
        if any(s < 0 for s in size + stride) or int(offset) < 0:
            raise CheckpointFormatError(f"negative tensor geometry {size}/{stride} in checkpoint")
        last = int(offset) + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else -1
        if last >= flat.numel():
            raise CheckpointFormatError(
                f"tensor {size} at offset {offset} overruns its storage of {flat.numel()} elements")
        return torch.as_strided(flat, size, stride, int(offset))


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None,
                       state: Any = None) -> Any:
    """Parameters load as their plain tensor data."""
    return data


def read_storage(archive: zipfile.ZipFile, member: str, ref: StorageRef,
                 big_endian: bool) -> torch.Tensor:
    """One storage file as a 1-D tensor of ``ref.dtype`` (``ref.numel`` elements)."""
    try:
        declared = archive.getinfo(member).file_size
    except KeyError:
        raise CheckpointFormatError(f"checkpoint is missing tensor data {member!r}") from None
    itemsize = torch.empty((), dtype=ref.dtype).element_size()
    if declared != ref.numel * itemsize:  # checked before reading: no decompression bombs
        raise CheckpointFormatError(
            f"tensor data {member!r} has {declared} bytes, expected {ref.numel * itemsize}")
    raw = archive.read(member)
    if not raw:
        return torch.empty(0, dtype=ref.dtype)
    flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    if big_endian and itemsize > 1:
        flat = flat.view(-1, itemsize).flip(1).contiguous().view(-1)
    return flat.view(ref.dtype)


def _archive_prefix(archive: zipfile.ZipFile, path: str) -> str:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointFormatError(f"{path}: not a PyTorch checkpoint (expected one <dir>/data.pkl)")
    return pickles[0].split("/", 1)[0]


def _is_big_endian(archive: zipfile.ZipFile, prefix: str) -> bool:
    try:
        order = archive.read(f"{prefix}/byteorder").decode("ascii", "replace").strip()
    except KeyError:
        return False  # files written before the byteorder record are little-endian
    if order not in ("little", "big"):
        raise CheckpointFormatError(f"unknown byteorder {order!r} in checkpoint")
    return order == "big"


def safe_load(path: str) -> Any:
    """Unpickle the checkpoint at ``path`` with :class:`SafeUnpickler` (see module docstring).

    Raises UnsafeCheckpointError for a disallowed global, CheckpointFormatError for a file that
    is not a readable PyTorch zip checkpoint (legacy non-zip files included).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            prefix = _archive_prefix(archive, path)
            unpickler = SafeUnpickler(archive.read(f"{prefix}/data.pkl"), archive, prefix,
                                      _is_big_endian(archive, prefix))
            return unpickler.load()
    except (UnsafeCheckpointError, CheckpointFormatError):
        raise
    except zipfile.BadZipFile as exc:
        raise CheckpointFormatError(
            f"{path}: not a PyTorch zip checkpoint ({exc}); the file is truncated, corrupt, or "
            f"in the pre-1.6 legacy format") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, RuntimeError, zipfile.LargeZipFile, OSError) as exc:
        raise CheckpointFormatError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {exc})") from None
