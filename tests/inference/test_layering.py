"""The backends room (``rtdetect.inference``) knows no media file, letterbox, decoder or post-processing
(docs/architecture.md): INT8 calibration and the ``auto`` trial are handed a ``FrameSupply``. Read from the
source's import statements, lazy imports inside functions included."""
import ast
from pathlib import Path

import rtdetect

FORBIDDEN = ("rtdetect.capture", "rtdetect.decode", "rtdetect.postprocess", "rtdetect.preprocess")
PACKAGE = Path(rtdetect.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_backends_room_imports_no_capture_letterbox_decoder_or_postprocess():
    files = sorted((PACKAGE / "inference").rglob("*.py"))
    assert len(files) > 10
    crossings = {f"{path.relative_to(PACKAGE.parent)} imports {name}"
                 for path in files for name in imported_modules(path)
                 if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
    assert not crossings, sorted(crossings)


def test_the_resolver_sees_relative_imports():
    """The check above is not vacuous: the resolver finds a known relative import of the room."""
    assert "rtdetect.inference.onnx_tools.calibration" in imported_modules(PACKAGE / "inference" / "tensorrt" / "builder.py")
    assert "rtdetect.capture.sampling" in imported_modules(PACKAGE / "trial_inputs.py")
