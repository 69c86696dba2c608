"""How the command line fails: the one place that turns exceptions into ``Error: …`` lines and exit codes.

Exit codes (README: "Nightly rebuilds"):

* 0 success; 1 an error (every :class:`~simkit.errors.SimkitError` unless its ``exit_code`` says
  otherwise, unwritable output paths); 2 a usage mistake (click's own ``Usage: …`` message);
* 3 ``simkit rebuild`` found nothing to change; 4 a rebuilt version failed validation
  (``ValidationError.exit_code``); 5 another rebuild holds the lock (``LockedError.exit_code``);
* 130 interrupted (Ctrl-C); 141 stdout's reader has gone, as for a process stopped by SIGPIPE.

Every command runs inside :class:`SimkitGroup`, so none of them catches anything itself.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from simkit.cli.terminal import clean
from simkit.errors import SimkitError

EXIT_ERROR = 1
EXIT_USAGE = 2  # raised by click (click.UsageError, click.BadParameter); listed for reference
EXIT_NOTHING_CHANGED = 3  # `simkit rebuild`: the index already matched its sources
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def warn(message: str) -> None:
    """``Warning: message`` on stderr; the command goes on."""
    click.echo(f"Warning: {clean(message)}", err=True)


def error(message: str) -> None:
    """``Error: message`` on stderr; the command decides whether it goes on (build lists every bad file)."""
    click.echo(f"Error: {clean(message)}", err=True)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """``Error: message`` on stderr, then exit with ``code``."""
    error(message)
    sys.exit(code)


def stop_writing() -> NoReturn:
    """Leave quietly once stdout's reader has gone, as a Unix tool killed by SIGPIPE would (exit 141):
    stdout is pointed at /dev/null so that flushing it at exit raises nothing more."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (tests, wrappers)
        pass
    else:
        os.dup2(os.open(os.devnull, os.O_WRONLY), descriptor)
    sys.exit(EXIT_BROKEN_PIPE)


def exit_for(exc: BaseException) -> NoReturn:
    """Report ``exc`` in one line (no traceback) and exit with its code; re-raise what is not ours to map."""
    if isinstance(exc, SimkitError):
        fail(str(exc), exc.exit_code)
    if isinstance(exc, BrokenPipeError):  # `simkit parse … | head`: the reader has what it wanted
        stop_writing()
    if isinstance(exc, OSError):  # output paths: an existing file where a folder should be, no permission, …
        where = exc.filename if exc.filename is not None else "file system"
        fail(f"{where}: {exc.strerror or exc}; check the path and its permissions")
    if isinstance(exc, KeyboardInterrupt):
        fail("interrupted", EXIT_INTERRUPTED)
    raise exc


class SimkitGroup(click.Group):
    """The ``simkit`` group: every command (and subgroup) it runs has its errors mapped by :func:`exit_for`.

    Usage mistakes are click's own exceptions and pass through untouched (``Usage: …``, exit 2).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SimkitError, OSError, KeyboardInterrupt) as exc:
            exit_for(exc)
