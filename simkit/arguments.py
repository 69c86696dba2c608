"""Checks of the arguments of public library calls: a wrong type or value raises :class:`QueryError`.

Every public function and method of the Python API checks what it is given with these before it
does any work, so a caller sees one ``QueryError`` naming the argument, the value and what to pass,
never a bare ``TypeError``, ``AttributeError`` or an empty result (docs/errors.md lists them).
Booleans are refused where a number is expected (``k=True`` is a mistake, not ``k=1``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from simkit.config import MAX_QUERY_CHARS_ENV, max_query_chars
from simkit.errors import QueryError

T = TypeVar("T")


def _shown(value: Any) -> str:
    """``value`` as a message shows it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def whole_number(name: str, value: Any, *, minimum: int | None = 1) -> int:
    """``value`` as an int of at least ``minimum`` (None: any); numpy integers too, not a bool, float or string."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        at_least = "" if minimum is None else f" of at least {minimum}"
        raise QueryError(f"{name}={_shown(value)}: give a whole number{at_least}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise QueryError(f"{name}={number}: must be at least {minimum}")
    return number


def optional_whole_number(name: str, value: Any, *, minimum: int = 1) -> int | None:
    """Like :func:`whole_number`, None passing through."""
    return None if value is None else whole_number(name, value, minimum=minimum)


def regions_k(k: int | None, threshold: float | None) -> int | None:
    """The ``k`` of a search or similar given ``-k``/``--threshold`` (or their HTTP parameters): ``k`` as given;
    5 when neither is (with a threshold alone: every region above it)."""
    return 5 if k is None and threshold is None else k


def fraction(name: str, value: Any, *, above_zero: bool = False) -> float:
    """``value`` as a finite float in [0, 1] (in (0, 1] with ``above_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise QueryError(f"{name}={_shown(value)}: give a number between 0 and 1")
    number = float(value)
    low_ok = number > 0 if above_zero else number >= 0
    if not math.isfinite(number) or not low_ok or number > 1:
        interval = "(0, 1]" if above_zero else "[0, 1]"
        raise QueryError(f"{name}={number!r}: must be a finite number in {interval}")
    return number


def optional_fraction(name: str, value: Any, *, above_zero: bool = False) -> float | None:
    """Like :func:`fraction`, None passing through."""
    return None if value is None else fraction(name, value, above_zero=above_zero)


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool (True, False, or a numpy bool)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise QueryError(f"{name}={_shown(value)}: give True or False")


def verify_mode(name: str, value: Any) -> str:
    """How much of an index version to check on open: ``"none"``, ``"sizes"`` or ``"checksums"``.

    ``True`` means ``"sizes"`` (every file present with its recorded size) and ``False`` ``"none"``.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "sizes" if value else "none"
    if isinstance(value, str) and value in ("none", "sizes", "checksums"):
        return value
    raise QueryError(f"{name}={_shown(value)}: give True (sizes), False, \"sizes\" or \"checksums\"")


def optional_flag(name: str, value: Any) -> bool | None:
    """Like :func:`flag`, None passing through."""
    return None if value is None else flag(name, value)


def text(name: str, value: Any) -> str:
    """``value`` as a str that is valid Unicode (no lone surrogate, which no encoder can write)."""
    if isinstance(value, bytes | bytearray):
        raise QueryError(f"{name}: got bytes, not text; decode it first (value.decode('utf-8'))")
    if not isinstance(value, str):
        raise QueryError(f"{name}={_shown(value)}: give a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryError(f"{name}: holds a lone surrogate {value[exc.start]!r} at character {exc.start} "
                         "(bytes that were not UTF-8?); pass valid Unicode text") from None
    return value


def optional_text(name: str, value: Any) -> str | None:
    """Like :func:`text`, None passing through."""
    return None if value is None else text(name, value)


def optional_choice(name: str, value: Any, choices: Sequence[str]) -> str | None:
    """``value`` if it is one of ``choices``; None passing through."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in choices:
        raise QueryError(f"{name}={_shown(value)}: give one of {', '.join(choices)}")
    return value


def query_text(value: Any) -> str:
    """A search query: text (see :func:`text`), not blank, at most :func:`~simkit.config.max_query_chars` long.

    The model embeds a query in consecutive windows, so its time grows with its length; the cap
    keeps one call from running for minutes (the default and why: docs/errors.md).
    """
    value = text("query", value)
    if not value.strip():
        raise QueryError("empty query; give the text of a measure to search for")
    try:
        limit = max_query_chars()
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if len(value) > limit:
        raise QueryError(f"query of {len(value)} characters is longer than the limit of {limit}; "
                         f"search with a shorter passage or raise the limit with {MAX_QUERY_CHARS_ENV}")
    return value


def path(name: str, value: Any) -> Path:
    """``value`` as a Path (a str or os.PathLike of str; not bytes, a number or None)."""
    if isinstance(value, str) or (isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)):
        if not os.fspath(value):
            raise QueryError(f"{name}='': give a path")
        return Path(value)
    raise QueryError(f"{name}={_shown(value)}: give a path (str or pathlib.Path), not {type(value).__name__}")


def optional_path(name: str, value: Any) -> Path | None:
    """Like :func:`path`, None passing through."""
    return None if value is None else path(name, value)


def paths(name: str, value: Any) -> list[Path]:
    """Report files and folders: a list (any iterable) of paths, or a single path."""
    if isinstance(value, str | os.PathLike):
        return [path(name, value)]
    if not isinstance(value, Iterable) or isinstance(value, bytes | bytearray):
        raise QueryError(f"{name}={_shown(value)}: give a list of report files or folders")
    return [path(name, item) for item in value]


def instance(name: str, value: Any, kind: type[T]) -> T:
    """``value`` if it is a ``kind``."""
    if not isinstance(value, kind):
        raise QueryError(f"{name}={_shown(value)}: give a {kind.__name__}, not {type(value).__name__}")
    return value
