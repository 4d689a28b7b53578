"""ONNX Runtime as rtdetect uses it: quiet. A session that fails raises, and rtdetect reports that error
once, as one line; ONNX Runtime would otherwise also print its own colour-coded log of it on stderr."""
from __future__ import annotations

QUIET_LOG_SEVERITY = 4  # ONNX Runtime's "fatal": nothing it logs before raising is printed


def quiet_onnxruntime():
    """The ``onnxruntime`` module with its default logger at ``QUIET_LOG_SEVERITY``; every session that
    does not set its own severity logs there, including those ONNX Runtime's quantizer opens to calibrate
    (which take no session options from us). Import ONNX Runtime through this wherever rtdetect creates a
    session, directly or through ONNX Runtime's tools."""
    import onnxruntime as ort

    ort.set_default_logger_severity(QUIET_LOG_SEVERITY)
    return ort
