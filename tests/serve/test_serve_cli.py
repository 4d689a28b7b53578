"""``rtdetect --serve`` as a user runs it: the real command in a subprocess."""
import json
import re
import subprocess

import requests

from tests.pipeline.cli_helpers import assert_one_line_error, cli_command, live_view_url, run_cli


def test_serve_with_save_and_json_at_once(small_detector, data_dir, tmp_path):
    """The live view answers while the run writes its video and JSONL; both are complete at the end, the
    server is gone with the run, and a request garbage never puts a traceback on stderr."""
    video, lines = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    process = subprocess.Popen(cli_command("--source", data_dir / "vtest_3s.mp4", "--model", small_detector,
                                           "--backend", "onnxruntime", "--serve", "127.0.0.1:0", "--save", video,
                                           "--json", lines, "--no-progress"),
                               stderr=subprocess.PIPE, text=True)
    url = live_view_url(process)
    assert url and url.startswith("http://127.0.0.1:")
    stats = requests.get(url + "api/stats", timeout=30).json()
    assert stats["names"] == ["Normal", "Fall"] and stats["settings"]["conf"] == 0.25
    bad = requests.post(url + "api/settings", params={"conf": "x"}, headers={"X-Rtdetect": "1"}, timeout=30)
    assert bad.status_code == 400
    rest = process.stderr.read()
    assert process.wait(timeout=300) == 0, rest
    assert "Traceback" not in rest and "30 frames" in rest
    assert len(lines.read_text().splitlines()) == 30 and video.stat().st_size > 0
    assert all(json.loads(line)["source"] for line in lines.read_text().splitlines())
    try:
        requests.get(url + "api/stats", timeout=5)
        raise AssertionError("the server outlived the run")
    except requests.ConnectionError:
        pass


def test_serve_option_values(data_dir):
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--serve", "host:port"), "--serve")
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--serve", "8²"), "--serve")  # no ASCII digit
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--token", "abcdefghij"), "--token needs --serve")
    assert_one_line_error(run_cli("--source", data_dir / "bus.jpg", "--serve", "--token", "short"), "at least 8")


def test_token_from_a_file_or_the_environment(small_detector, data_dir, tmp_path):
    """--token is visible in ps; --token-file (its first line) and $RTDETECT_TOKEN are not. The token the
    run uses is the one in the printed URL; --token-file wins over the environment."""
    token_file = tmp_path / "token"
    token_file.write_text("from-the-file-123\nignored second line\n")
    run = ("--source", data_dir / "bus.jpg", "--model", small_detector, "--backend", "onnxruntime",
           "--serve", "127.0.0.1:0", "--no-progress")
    for options, env, expected in ((("--token-file", token_file), None, "from-the-file-123"),
                                   ((), {"RTDETECT_TOKEN": "from-the-env-4567"}, "from-the-env-4567"),
                                   (("--token-file", token_file), {"RTDETECT_TOKEN": "from-the-env-4567"},
                                    "from-the-file-123")):
        result = run_cli(*run, *options, env=env)
        assert result.returncode == 0, result.stderr
        assert re.search(rf"live view at http://127\.0\.0\.1:\d+/\?token={expected}\n", result.stderr), result.stderr


def test_token_option_errors(data_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    image = ("--source", data_dir / "bus.jpg")
    assert_one_line_error(run_cli(*image, "--token-file", empty), "--token-file needs --serve")
    assert_one_line_error(run_cli(*image, "--serve", "--token-file", tmp_path / "missing"),
                          "--token-file", "cannot read it")
    assert_one_line_error(run_cli(*image, "--serve", "--token-file", empty), "--token-file", "empty")
    assert_one_line_error(run_cli(*image, "--serve", "--token", "abcdefghij", "--token-file", empty),
                          "--token and --token-file")
    assert_one_line_error(run_cli(*image, "--serve", env={"RTDETECT_TOKEN": "short"}),
                          "$RTDETECT_TOKEN must be at least 8")
