"""SignalStop in this process: the first stop signal raises outside the run and only sets the event while
outputs are finishing; later signals never raise (also across nested commands); handlers are restored."""
import signal

import pytest

from rtdetect.signals import Interrupted, SignalStop, exit_status


def test_first_signal_raises_outside_the_run_and_later_ones_wait():
    before = signal.getsignal(signal.SIGTERM)
    with SignalStop() as stop:
        with pytest.raises(Interrupted) as err:
            signal.raise_signal(signal.SIGTERM)
        assert err.value.signum == signal.SIGTERM and exit_status(err.value.signum) == 143
        signal.raise_signal(signal.SIGINT)  # repeated: must not raise
        assert stop.name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_signal_while_finishing_sets_the_event():
    with SignalStop() as stop, stop.finishing() as event:
        signal.raise_signal(signal.SIGHUP)
        assert event.is_set() and stop.signum == signal.SIGHUP


def test_nested_stop_makes_the_outer_one_wait():
    with SignalStop() as outer:
        with SignalStop() as inner, inner.finishing():
            signal.raise_signal(signal.SIGINT)
        assert outer.signum == signal.SIGINT
        signal.raise_signal(signal.SIGTERM)  # after the inner command: still no second raise
