"""The README's Python example runs as written (extracted from README.md, run in a fresh interpreter)."""
import re
import shutil
import subprocess
import sys

from tests.conftest import ROOT


def readme_block(heading: str) -> str:
    """The first ```python block after ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_python_api_example_runs(v5seg_onnx, data_dir, tmp_path):
    """v5seg_onnx: the example's model is the session's converted default model (no second conversion)."""
    shutil.copy(data_dir / "bus.jpg", tmp_path / "bus.jpg")
    result = subprocess.run([sys.executable, "-c", readme_block("## Python API")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.match(r"\d+ objects: .*person", lines[0]), lines
    assert [line.split()[0] for line in lines[1:6]] == ["0", "1", "2", "3", "4"]
    assert lines[6].startswith("Detections ")
    assert (tmp_path / "bus_annotated.jpg").stat().st_size > 10_000
