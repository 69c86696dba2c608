"""One exception hierarchy for simkit; the CLI maps these to exit codes in one place."""

from __future__ import annotations


class SimkitError(Exception):
    """Base class of every error simkit raises on purpose.

    The message is one line: what happened, to which file, and what to do.
    """

    exit_code = 1
    report: object = None  # a failed rebuild's report (simkit.pipeline.rebuild.RebuildResult), for `--json`


class InputError(SimkitError):
    """A report file cannot be read: missing, binary, empty, undecodable."""


class ModelError(SimkitError):
    """The embedding model cannot be found, materialized or loaded."""


class IndexLoadError(SimkitError):
    """An index directory is missing, corrupt, or was built with another model."""


class NotFoundError(SimkitError):
    """A paragraph id or region asked for does not exist in the index."""


class BuildError(SimkitError):
    """An index could not be built (for example: no readable report at all)."""


class QueryError(SimkitError):
    """A query cannot be run as given (empty text, unknown paragraph kind, …)."""


class ValidationError(SimkitError):
    """A freshly built index version failed its checks; it was discarded and the previous one still serves.

    ``report`` is the rebuild's report (a :class:`simkit.pipeline.rebuild.RebuildResult`) when a rebuild raised it.
    """

    exit_code = 4

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class WriteError(SimkitError):
    """A file of the index could not be written (disk full, no permission); nothing was published.

    The message names the file; the version that was serving before still serves.
    """


class LockedError(SimkitError):
    """Another process is rebuilding (or re-pointing) this index right now."""

    exit_code = 5


class ConfigError(SimkitError):
    """A setting cannot be used as given: ``simkit serve`` bound beyond loopback without a token, an
    unreadable or empty token file, a limit below 1."""
