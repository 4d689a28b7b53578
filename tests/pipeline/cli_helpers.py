"""Running the real command in a subprocess, and what every error must look like."""
import os
import re
import subprocess
import sys


def cli_command(*args) -> list[str]:
    """argv of ``python -m rtdetect.cli ARGS`` with this interpreter (for ``subprocess.Popen`` as well)."""
    return [sys.executable, "-m", "rtdetect.cli", *map(str, args)]


def live_view_url(process: subprocess.Popen) -> str | None:
    """The URL a ``--serve`` run prints on its stderr (read line by line until it comes), or None."""
    for line in process.stderr:
        match = re.search(r"live view at (http://\S+)", line)
        if match:
            return match.group(1)
    return None


def run_cli(*args, cwd=None, env=None, input=None, preexec_fn=None):
    """``python -m rtdetect.cli ARGS`` with this interpreter; ``env`` entries are added to the environment;
    ``preexec_fn`` runs in the child before the command (e.g. to set a resource limit)."""
    full_env = None if env is None else {**os.environ, **env}
    return subprocess.run(cli_command(*args), capture_output=True, text=True, cwd=cwd, env=full_env, input=input,
                          timeout=300, preexec_fn=preexec_fn)


def assert_one_line_error(result, *fragments):
    """Exit status 1 and exactly one stderr line ``rtdetect: error: ...`` holding every fragment."""
    assert result.returncode == 1, result.stderr
    # "rtdetect: auto: ..." (--backend auto measuring and reporting its choice, once per model and machine) and
    # "rtdetect: converting ..." (a model's first use at a shape) say what a first run waits for: not errors.
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("rtdetect: auto: ", "rtdetect: converting "))]
    assert len(lines) == 1 and lines[0].startswith("rtdetect: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
