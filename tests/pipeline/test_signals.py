"""SignalStop: the first stop signal raises outside the run and only sets the event while outputs are
finishing; later signals never raise (also across nested commands); handlers are restored.

Each case raises real signals in a fresh interpreter of its own: in the test session's process, libraries
other tests loaded (Ray's driver, FFmpeg's threads) have handlers and threads of their own, and the full
suite's process was seen to die with SIGSEGV at the first raised SIGTERM (never when these ran alone)."""
import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import signal
from rtdetect.signals import Interrupted, SignalStop, exit_status
"""

CASES = {
    "first-raises-later-wait": """
        before = signal.getsignal(signal.SIGTERM)
        with SignalStop() as stop:
            try:
                signal.raise_signal(signal.SIGTERM)
            except Interrupted as err:
                assert err.signum == signal.SIGTERM and exit_status(err.signum) == 143
            else:
                raise AssertionError("the first signal did not raise")
            signal.raise_signal(signal.SIGINT)  # repeated: must not raise
            assert stop.name == "SIGTERM"
        assert signal.getsignal(signal.SIGTERM) is before
    """,
    "while-finishing-sets-the-event": """
        with SignalStop() as stop, stop.finishing() as event:
            signal.raise_signal(signal.SIGHUP)
            assert event.is_set() and stop.signum == signal.SIGHUP
    """,
    "nested-makes-the-outer-wait": """
        with SignalStop() as outer:
            with SignalStop() as inner, inner.finishing():
                signal.raise_signal(signal.SIGINT)
            assert outer.signum == signal.SIGINT
            signal.raise_signal(signal.SIGTERM)  # after the inner command: still no second raise
    """,
}


@pytest.mark.parametrize("case", list(CASES))
def test_signal_stop(case):
    code = PRELUDE + textwrap.dedent(CASES[case])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
