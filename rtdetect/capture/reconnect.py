"""How long a live source keeps trying after it lost its stream: ``--reconnect`` and the backoff.

``ReconnectBudget.parse`` reads ``N`` (at most N reconnection attempts), ``Ns`` / ``Nm`` / ``Nh`` (keep
trying for that long after the loss), ``forever`` (cameras that must come back) or ``0`` (never
reconnect). The budget starts again whenever frames flow again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_SPEC = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")


@dataclass(frozen=True)
class ReconnectBudget:
    """``attempts``: most reconnection attempts (None: no count limit); ``seconds``: most time spent trying
    after a loss (None: no time limit). Both None means forever."""

    attempts: int | None = 5
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> "ReconnectBudget":
        """``"5"``, ``"30s"``, ``"2m"``, ``"1h"``, ``"forever"`` or ``"0"``; ValueError otherwise."""
        spec = str(text).strip().lower()
        if spec == "forever":
            return cls(attempts=None, seconds=None)
        match = _SPEC.match(spec)
        if match is None:
            raise ValueError(f"--reconnect takes a number of attempts (5), a duration (30s, 2m, 1h) or 'forever', "
                             f"got {text!r}")
        number, unit = match.groups()
        if not unit:
            if "." in number:
                raise ValueError(f"--reconnect: a number of attempts must be whole, got {text!r}")
            return cls(attempts=int(number), seconds=None)
        return cls(attempts=None, seconds=float(number) * _SECONDS[unit])

    @property
    def forever(self) -> bool:
        return self.attempts is None and self.seconds is None

    def allows(self, attempts_made: int, elapsed_s: float) -> bool:
        """May one more attempt start, after ``attempts_made`` failed ones and ``elapsed_s`` since the loss?"""
        if self.attempts is not None and attempts_made >= self.attempts:
            return False
        return self.seconds is None or elapsed_s < self.seconds

    def delay(self, attempts_made: int, elapsed_s: float) -> float:
        """Seconds to wait before the next attempt: 0.5, 1, 2, 4, then 8 s; never past a time budget."""
        wait = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** attempts_made)
        if self.seconds is not None:
            wait = min(wait, max(0.0, self.seconds - elapsed_s))
        return wait

    def describe(self) -> str:
        """The budget as the user would write it (``5``, ``30s``, ``forever``)."""
        if self.forever:
            return "forever"
        if self.attempts is not None:
            return str(self.attempts)
        return f"{self.seconds:g}s"
