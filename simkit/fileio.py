"""Small file helpers shared by the writers: checksums, JSON, atomic replacement of a file, directory fsync,
and errors that name the file a write failed on."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write pretty, UTF-8 JSON (Chinese text stays readable)."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file inside it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Below this many free bytes a failed write is put down to a full disk (FAISS and SQLite do not say why).
_NEARLY_FULL = 1 << 20


def write_failure(path: Path, exc: BaseException, *, rename: bool = False) -> OSError:
    """An :class:`OSError` naming ``path`` for a write that failed with ``exc``.

    ``write()`` errors carry no file name, numpy's say only "N requested and M written", and
    FAISS (``RuntimeError``) and SQLite (``sqlite3.OperationalError``) raise their own types: each
    becomes an ``OSError`` with ``filename`` set to ``path`` (unless ``exc`` names a file already)
    and ``errno`` ENOSPC when the file system holding ``path`` is (nearly) full. With ``rename``, the
    error names ``path`` even if ``exc`` named another file (the temporary file of an atomic write).
    """
    if isinstance(exc, OSError) and exc.filename is not None and exc.errno is not None and not rename:
        return exc
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and _nearly_full(path):
        code = errno.ENOSPC
    reason = (os.strerror(code) if code is not None
              else (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200])
    return OSError(code if code is not None else errno.EIO, reason, str(path))


def _nearly_full(path: Path) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) has almost no space left."""
    for candidate in (path, *path.parents):
        try:
            stats = os.statvfs(candidate)
        except OSError:
            continue
        return stats.f_bavail * stats.f_frsize < _NEARLY_FULL
    return False


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Re-raise an :class:`OSError` of the block as one naming ``path`` (see :func:`write_failure`)."""
    try:
        yield
    except OSError as exc:
        raise write_failure(path, exc) from exc


@contextmanager
def atomic_writer(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content replaces ``path`` only when the block ends without error.

    Writes a temporary file beside ``path`` (creating its folder), fsyncs it, renames it over
    ``path`` and fsyncs the folder: readers see the old file or the new one, never a part. If it
    fails, the temporary file is removed and an ``OSError`` naming ``path`` is raised.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failure(path, exc, rename=True) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(text)
