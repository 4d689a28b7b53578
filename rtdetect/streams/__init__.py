"""Many sources, one engine: ``rtdetect --source streams.txt --output-dir out/``.

Modules: ``lists`` (the list file: one source per line, and each one's stable, safe name), ``folders`` (each
stream's outputs under ``out/<name>/``, and the run of a list through ``rtdetect.run.batcher``), ``report``
(the lines a run prints at its end).
"""
from .folders import StreamOutputs, hold_output_dir, run_streams
from .lists import StreamEntry, is_stream_list, read_stream_list, stream_name, unique_names

__all__ = ["StreamEntry", "StreamOutputs", "hold_output_dir", "is_stream_list", "read_stream_list", "run_streams",
           "stream_name", "unique_names"]
