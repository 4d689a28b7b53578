"""The live view in a real browser: Debian's chromium (tools/install_test_system_deps.sh), driven headless
by playwright's Python API (no browser download). The default model over a 20 s clip, served by the real
command with a token (as every non-loopback bind has: the page must send it with every request, the
settings included); the page must show changing video, updating stats, and fewer detections at a higher
threshold.
Leaves a screenshot in build/live-view.png (ignored by git; docs/live-view.png, the README's, is a copy)."""
import re
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT
from tests.pipeline.cli_helpers import cli_command
from tests.serve.clips import long_clip

CHROMIUM = shutil.which("chromium")
SCREENSHOT = ROOT / "build" / "live-view.png"


@pytest.fixture
def served(v5seg_onnx, data_dir, tmp_path):
    clip = long_clip(data_dir, tmp_path / "clip.mp4", repeats=7)
    process = subprocess.Popen(cli_command("--source", clip, "--model", v5seg_onnx, "--backend", "onnxruntime",
                                           "--serve", "127.0.0.1:0", "--token", "browser-test-token", "--track",
                                           "--no-progress"),
                               stderr=subprocess.PIPE, text=True)
    url = None
    for line in process.stderr:
        if match := re.search(r"live view at (http://\S+)", line):
            url = match.group(1)
            break
    try:
        assert url, "no live view URL on stderr"
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 128 + signal.SIGTERM, rest
        assert "Traceback" not in rest


def _wait_for(predicate, timeout: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


VIDEO_PIXELS = """() => {
  const img = document.getElementById('video');
  if (!img.naturalWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 48;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0, 64, 48);
  return Array.from(context.getImageData(0, 0, 64, 48).data).join(',');
}"""


def _stat(page, name: str) -> str:
    return page.evaluate("""(name) => {
      for (const dt of document.querySelectorAll('#stats dt')) if (dt.textContent === name) return dt.nextSibling.textContent;
      return null; }""", name)


def _shown_scores(page) -> list[float]:
    return [float(s) for s in page.eval_on_selector_all("#detections tbody tr td:nth-child(2)",
                                                        "cells => cells.map(c => c.textContent)")]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (tools/install_test_system_deps.sh)")
def test_live_view_in_chromium(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 640})
            page.goto(served)
            assert page.title() == "rtdetect live"
            first = _wait_for(lambda: page.evaluate(VIDEO_PIXELS), what="the first video frame")
            _wait_for(lambda: page.evaluate(VIDEO_PIXELS) not in (None, first), what="a new video frame")
            frames = int(_wait_for(lambda: _stat(page, "frames"), what="stats"))
            _wait_for(lambda: int(_stat(page, "frames")) > frames, what="the stats to update")
            assert _stat(page, "inference (ms)") is not None and _stat(page, "FPS") is not None
            _wait_for(lambda: len(_shown_scores(page)) >= 3 and min(_shown_scores(page)) < 0.85,
                      what="detections at the default threshold, some below 0.85")
            assert min(_shown_scores(page)) >= 0.25
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))

            page.locator("#conf").fill("0.85")  # as dragging the slider: input + change events
            _wait_for(lambda: all(s >= 0.85 for s in _shown_scores(page)), what="detections at the new threshold")
            time.sleep(1.0)
            assert all(s >= 0.85 for s in _shown_scores(page))
            assert page.locator("#conf-value").text_content() == "0.85"
        finally:
            browser.close()
