"""What a multi-stream run prints at its end: one line per stream, then the batches it ran."""
from __future__ import annotations

from ..outputs import describe_line_counts, plural
from ..run.batcher import BatchedResult
from ..run.result import DONE


def describe(result: BatchedResult) -> list[str]:
    """``name: N frames, D detections[; status: error]`` per stream, the outputs written, and one line on
    the batches (how many frames each engine call held)."""
    lines = []
    for stream in result.streams:
        line = f"{stream.name} ({stream.source}): {plural(stream.frames, 'frame')}, {plural(stream.detections, 'detection')}"
        if stream.frames_lost:
            line += f"; {plural(stream.frames_lost, 'frame')} could not be decoded"
        if stream.frames_dropped:
            line += f"; {plural(stream.frames_dropped, 'stale live frame')} dropped"
        if stream.status != DONE:
            line += f"; {stream.status}: {stream.error}"
        lines.append(line)
        lines += [f"{stream.name}: {counted}" for counted in describe_line_counts(stream.line_counts)]
    sizes = ", ".join(f"{count} of {plural(size, 'frame')}" for size, count in sorted(result.batch_sizes.items(), reverse=True))
    fps = result.frames / result.seconds if result.seconds > 0 else 0.0
    lines.append(f"streams: {plural(len(result.streams), 'stream')}, {plural(result.frames, 'frame')} in "
                 f"{result.seconds:.2f} s ({fps:.1f} FPS); batches: {sizes or 'none'}")
    lines += [f"rtdetect: wrote {name} ({size} bytes)" for stream in result.streams
              for name, size in stream.outputs.items()]
    return lines
