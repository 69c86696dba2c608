"""Small file helpers shared by the writers: checksums, JSON, atomic replacement of a file (never of a device or
FIFO), output to a path or a stream, directory fsync, and errors that name the file a write failed on."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
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


def write_target(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Where writing ``path`` lands, and whether it may be replaced atomically there.

    Symbolic links are followed link by link to the file they name, which is replaced and the links
    kept. Only an absent path or a regular file is replaced (False for a device such as /dev/null, a
    FIFO, a socket or a directory: those are written through, or fail, as ``open`` does). A link into
    /proc (``/dev/stdout``, ``/dev/fd/1``) stands for a descriptor the caller opened, such as a shell
    redirection, and is written through as well.
    """
    current = Path(os.path.abspath(path))
    for _ in range(40):  # the kernel's own limit on links followed
        current = Path(os.path.realpath(current.parent)) / current.name
        if current.parts[1:2] == ("proc",):
            return current, False
        if not current.is_symlink():
            break
        current = Path(os.path.abspath(current.parent / os.readlink(current)))
    else:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    try:
        mode = current.stat().st_mode
    except FileNotFoundError:
        return current, True
    return current, stat.S_ISREG(mode)


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

    Writes a temporary file beside the target (creating its folder), fsyncs it, renames it over the
    target and fsyncs the folder: readers see the old file or the new one, never a part. The target
    is ``path``, or the file a symbolic link ``path`` names (the link stays; a replaced file keeps its
    permission bits). Anything else, a device (/dev/null), a FIFO or ``/dev/stdout``, is never
    replaced: it is opened and written through, appending as a shell's ``>>`` does; an ``OSError``
    then names ``path`` (``/dev/full``: no space left on device). See :func:`write_target`. If the atomic
    write fails, the temporary file is removed and an ``OSError`` naming ``path`` is raised.
    """
    target, atomic = write_target(path)
    if not atomic:
        try:
            with open(path, "a", encoding="utf-8") as handle:
                yield handle
        except OSError as exc:
            if exc.filename is None:  # a write or flush failing names no file; this is the one written
                raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
            raise
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(handle.fileno(), stat.S_IMODE(target.stat().st_mode))
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failure(path, exc, rename=True) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


@contextmanager
def output_writer(out: str | os.PathLike[str] | TextIO) -> Iterator[TextIO]:
    """A text handle on an output: a stream (``sys.stdout``) as it is, flushed at the end and left open;
    a path through :func:`atomic_writer`."""
    if isinstance(out, str | os.PathLike):
        with atomic_writer(Path(out)) as handle:
            yield handle
    else:
        yield out
        out.flush()


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(text)


def put_directory_in_place(tmp: Path, target: Path) -> None:
    """Move the finished directory ``tmp`` to ``target`` (replacing what is there), readable by other users
    as the umask allows (``mkdtemp`` makes it owner-only): a service account may run the nightly rebuilds."""
    umask = os.umask(0)
    os.umask(umask)
    for path in (tmp, *tmp.rglob("*")):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.replace(tmp, target)
