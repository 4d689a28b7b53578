"""The run room: the ``Model`` (an engine with its pre- and post-processing) and the one ``Runner`` that carries
frames through it into sinks, for one source or several (see docs/architecture.md)."""
from .model import CpuModel, GpuModel, Model, open_model
from .result import DONE, FAILED, INTERRUPTED, LOST, RunResult
from .runner import Runner
from .work import DetectionStage, Stage, WorkItem

__all__ = ["CpuModel", "DONE", "DetectionStage", "FAILED", "GpuModel", "INTERRUPTED", "LOST", "Model", "RunResult",
           "Runner", "Stage", "WorkItem", "open_model"]
