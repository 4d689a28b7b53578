"""Errors that mean "the user's input is wrong", reported by the CLI as one line and a non-zero exit."""


class RtdetectError(Exception):
    """Base of every error caused by input (a source, a model, an output path, an option)."""


class SourceError(RtdetectError):
    """A source cannot be opened or read: missing file, undecodable video, absent camera, unreachable URL."""


class ModelError(RtdetectError):
    """A model cannot be loaded, or is not a detector rtdetect understands."""


class InferenceError(RtdetectError):
    """The engine failed to run the model on a frame (the runtime's reason in one line)."""


class OutputError(RtdetectError):
    """An output cannot be written: missing directory, unsupported extension, no display for a window."""


class UsageError(RtdetectError):
    """A command-line option is missing, unknown or has a value outside its range."""


def missing_extra(what: str, needs: str, extra: str) -> UsageError:
    """The one error for an optional dependency that is not installed: ``what`` (a command or option) needs
    ``needs`` (a library), which the ``[extra]`` extra brings, installed from the clone as the README says."""
    return UsageError(f"{what} needs {needs}, which the [{extra}] extra brings: pip install -e '.[{extra}]' in the "
                      f"rtdetect clone")
