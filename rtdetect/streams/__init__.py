"""Many sources, one engine: ``rtdetect --source streams.txt --output-dir out/``.

Modules: ``lists`` (the list file: one source per line, and each one's stable, safe name), ``runner``
(the sources read side by side, their frames batched into one inference call, each stream's outputs
under ``out/<name>/``).
"""
from .lists import StreamEntry, is_stream_list, read_stream_list, stream_name, unique_names
from .runner import MultiStreamResult, MultiStreamRunner, StreamOutputs, StreamResult

__all__ = ["MultiStreamResult", "MultiStreamRunner", "StreamEntry", "StreamOutputs", "StreamResult",
           "is_stream_list", "read_stream_list", "stream_name", "unique_names"]
