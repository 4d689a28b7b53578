"""What a run did: one :class:`RunResult` per source, whichever path carried it (one source, a stream of a
list, a file or stream of ``rtdetect batch``, the bench's end-to-end run). The command's summary line, the
stream lists' report, the batch manifest and the bench all read it."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..metrics import StageTimes

DONE, FAILED, INTERRUPTED, LOST = "done", "failed", "interrupted", "lost"
STATUSES = (DONE, FAILED, INTERRUPTED, LOST)


@dataclass
class RunResult:
    """One source's run.

    ``status``: done | failed (``error`` says why) | lost (a live source whose reconnect budget was spent;
    ``error`` says why) | interrupted (a stop before its end). ``source``: the source as shown (credentials
    redacted); ``name``: its outputs' folder in a stream list (None otherwise). ``frames``: frames written to
    the sinks; ``frames_lost``: frames the container announced but could not be decoded; ``frames_dropped``:
    stale live frames skipped. ``stages``: seconds per stage of every frame. ``line_counts``: each counting
    line's final totals. ``outputs``: each output file (relative to the output folder) → bytes.
    """

    source: str = ""
    name: str | None = None
    status: str = DONE
    error: str | None = None
    frames: int = 0
    detections: int = 0
    seconds: float = 0.0
    frames_lost: int = 0
    frames_dropped: int = 0
    stages: StageTimes = field(default_factory=StageTimes)
    line_counts: list[dict] = field(default_factory=list)
    outputs: dict[str, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def interrupted(self) -> bool:
        return self.status == INTERRUPTED

    @property
    def source_lost(self) -> str | None:
        """Why a live source ended on its own (its reconnect budget spent), or None."""
        return self.error if self.status == LOST else None

    def fail(self, error: str) -> None:
        """Mark the run failed (the first error wins)."""
        if self.status != FAILED:
            self.status, self.error = FAILED, error

    def interrupt(self, why: str = "stopped before its end") -> None:
        """Mark a run that was still going when a stop came (a failure or a loss stays what it was)."""
        if self.status == DONE:
            self.status, self.error = INTERRUPTED, why

    def lose(self, why: str) -> None:
        """Mark a live source that ended on its own (a failure stays what it was)."""
        if self.status in (DONE, INTERRUPTED):
            self.status, self.error = LOST, why

    def entry(self) -> dict:
        """The JSON-ready record (the batch manifest's entry): counts, status, outputs, the median ms per
        stage (``stages_ms``) and each counting line's totals (``line_counts``, when counting)."""
        stages = {stage: round(summary.p50, 3) for stage, summary in self.stages.summary().items()}
        return {"status": self.status, "source": self.source, "frames": self.frames,
                "fps": round(self.fps, 2), "seconds": round(self.seconds, 3), "detections": self.detections,
                "frames_lost": self.frames_lost, "frames_dropped": self.frames_dropped, "error": self.error,
                "outputs": dict(self.outputs), "stages_ms": stages,
                **({"line_counts": self.line_counts} if self.line_counts else {})}
