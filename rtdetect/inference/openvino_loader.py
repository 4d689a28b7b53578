"""Importing OpenVINO the one safe way (:func:`import_openvino`), for the engine and for NNCF's quantization
alike."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

from ..errors import ModelError
from ..notes import quiet_root_logger


@contextlib.contextmanager
def _telemetry_declined() -> Iterator[None]:
    """While the block runs, OpenVINO's usage telemetry declines for this process.

    ``import openvino`` starts ``openvino_telemetry``, which (unless the user opted out) sends its events
    from a thread pool, each through a ``multiprocessing`` child forked from this multi-threaded process.
    Such a child can deadlock on a lock another thread held at the fork, and Python's exit then waits for
    it forever: runs hung after writing their outputs. The package's one switch that does not change the
    user's stored choice is its check for an unattended job (``CI=true``), read once when it starts; it is
    set only around the import, then restored."""
    before = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CI", None)
        else:
            os.environ["CI"] = before


def import_openvino():
    """The ``openvino`` module, or ModelError saying how to get it. Imported with its telemetry declined
    (see ``_telemetry_declined``) and with the warnings it logs on the root logger when it cannot write under
    the home folder (an unwritable or missing HOME) hidden."""
    try:
        with quiet_root_logger(), _telemetry_declined():
            import openvino
    except ImportError as exc:
        raise ModelError(f"the OpenVINO backend needs the openvino package ({exc}); pip install openvino") from None
    return openvino
