"""On-disk layout of an index directory, its manifest, and atomic publication.

An index directory holds immutable versions and a pointer to the current one::

    INDEX_DIR/
      CURRENT                  one line: the name of the current version (a plain name, nothing else)
      versions/<version>/
        manifest.json          format_version, model, counts, checksums, library versions
        manifest.sha256        the manifest's own sha256 (``sha256sum`` format; see simkit.store.manifest)
        readers.lock           empty; readers hold a shared flock on it, so :func:`prune` leaves the version alone
        vectors.faiss          FAISS's own format; row i is the vector of store unit row i
        store.sqlite           reports and paragraphs (SQLite)
        phrases.json           trigrams and closing phrases shared across regions (boilerplate detection)
        lexical.*              BM25 index over Chinese words (see simkit.store.lexical)
        sentence*.npy          evidence sentence vectors (see simkit.store.sentences; optional)
        latent_*.npy           the units' latent terms (see simkit.store.latent; optional, default model only)
        clusters.*             recurring initiatives (see simkit.initiatives.clustering; ``cluster_ids.json``
                               at the root numbers them across versions)

A build writes a new version in a hidden temporary directory, fsyncs it,
renames it into ``versions/`` and then replaces ``CURRENT`` with
``os.replace``: readers see either the old version or the new one, never a
half-written one. Nothing is pickled.

Writers (build, rebuild, rollback) hold ``rebuild.lock`` (see :class:`IndexLock`)
and clean up what a crashed writer left behind (:func:`recover`) before writing. Readers hold
their version's ``readers.lock`` (see :func:`hold_version`) while they have it open.

``CURRENT`` is checked strictly (:func:`read_current`): it must hold the plain name of a
directory in ``versions/``; anything else (binary junk, an empty file, a path) is reported
as damaged, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from simkit.errors import IndexLoadError, LockedError
from simkit.fileio import fsync_dir, sha256_file, write_failure
from simkit.store.manifest import Manifest

VECTORS = "vectors.faiss"
STORE = "store.sqlite"
PHRASES = "phrases.json"
CURRENT = "CURRENT"
VERSIONS = "versions"
KEEP_VERSIONS = 3
LOCK = "rebuild.lock"
READERS = "readers.lock"  # in each version directory: readers' shared flock (see hold_version)
# What CURRENT may hold: the plain name of a published version (no separator, no leading dot, no "..").
_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_POINTER_TMP = f".{CURRENT}."  # prefix of the pointer's temporary files: .CURRENT.<intent>.<pid>.tmp
_PUBLISH = "publish"  # the pointer names a version this writer created and never published
_ROLLBACK = "rollback"  # the pointer names an existing version (rollback): never delete it

Checkpoint = Callable[[str], None]
log = logging.getLogger("simkit.store.layout")


@dataclass(frozen=True)
class IndexVersion:
    """One published version of an index, with its parsed manifest."""

    root: Path
    name: str
    path: Path
    manifest: Manifest


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def new_version_dir(root: Path) -> tuple[str, Path]:
    """A fresh temporary directory inside ``root/versions`` and the version name it will get."""
    versions = root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    now = time.time()
    name = (time.strftime("v%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
            + f"-{os.getpid()}-{os.urandom(2).hex()}")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=versions))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it owner-only; readers may run as another user
    try:
        (tmp / READERS).touch(0o666 & ~umask)  # readers may lack the right to create it later
    except BaseException:
        discard(tmp)
        raise
    return name, tmp


def publish(root: Path, name: str, tmp: Path, *, keep: int = KEEP_VERSIONS,
            checkpoint: Checkpoint | None = None) -> Path:
    """Make the version in ``tmp`` current: fsync, rename into place, swap ``CURRENT`` atomically.

    The pointer's temporary file is written (naming the new version) before the version
    directory is renamed into place, so a crash before the swap leaves a trace that
    :func:`recover` uses to remove the never-published version. Afterwards all but the
    ``keep`` newest versions are removed (never the current one).
    """
    for file in tmp.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(tmp)
    pointer_tmp = _write_pointer_tmp(root, name, _PUBLISH)
    final = root / VERSIONS / name
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if checkpoint is not None:
        checkpoint("swap")
    os.replace(pointer_tmp, root / CURRENT)
    fsync_dir(root)
    prune(root, keep=keep)
    return final


def set_current(root: Path, name: str) -> None:
    """Re-point ``CURRENT`` to an existing version (rollback), atomically.

    Its temporary pointer is marked as a rollback's: :func:`recover` only unlinks it, since
    the version it names was published before and may be the only good one left.
    """
    os.replace(_write_pointer_tmp(root, name, _ROLLBACK), root / CURRENT)
    fsync_dir(root)


def _write_pointer_tmp(root: Path, name: str, intent: str) -> Path:
    """Write ``.CURRENT.<intent>.<pid>.tmp`` naming ``name``; the intent tells :func:`recover` what it was for.

    If it cannot be written (disk full), nothing is left behind and the error names ``CURRENT``.
    """
    pointer_tmp = root / f"{_POINTER_TMP}{intent}.{os.getpid()}.tmp"
    try:
        with pointer_tmp.open("w", encoding="utf-8") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):  # (not there, or not a file: recover deals with it)
            pointer_tmp.unlink(missing_ok=True)
        raise write_failure(root / CURRENT, exc) from exc
    return pointer_tmp


def published_versions(root: Path) -> list[str]:
    """Names of the published versions, oldest first (names start with their UTC creation time)."""
    versions = root / VERSIONS
    if not versions.is_dir():
        return []
    return sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_current(root: Path) -> str | None:
    """The version name ``CURRENT`` holds, or None when there is no ``CURRENT`` file.

    Raises :class:`IndexLoadError` (naming the file, suggesting ``simkit rollback``) when it is
    damaged: not ASCII, empty, or anything but the plain name of a version (a path such as
    ``../../other/versions/v1`` is refused, never followed). Whitespace around the name is ignored.
    """
    pointer = root / CURRENT
    try:
        raw = pointer.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexLoadError(f"{pointer}: unreadable ({exc.strerror or exc}); {_repair(root)}") from None
    try:
        name = raw.decode("ascii").strip(" \t\r\n")
    except UnicodeDecodeError:
        name = None
    if not name:
        what = "empty" if name == "" else "damaged (binary content)"
        raise IndexLoadError(f"{pointer}: {what}, it should name the current version; {_repair(root)}")
    if not _VERSION_NAME.fullmatch(name) or ".." in name:
        raise IndexLoadError(f"{pointer}: damaged, it must hold the plain name of a version in {root / VERSIONS} "
                             f"(it holds {name[:60]!r}); {_repair(root)}")
    return name


def current_name(root: Path) -> str | None:
    """The version ``CURRENT`` points to, or None if there is no pointer or it is damaged (see :func:`read_current`)."""
    try:
        return read_current(root)
    except IndexLoadError:
        return None


def pointer_problem(root: Path) -> str | None:
    """Why ``CURRENT`` does not lead to a version (damaged, missing beside published versions, naming a
    version that does not exist), or None when it does or the directory holds no index at all."""
    try:
        resolve_current(root)
    except IndexLoadError as exc:
        if (root / CURRENT).exists() or published_versions(root):
            return str(exc)
    return None


def _repair(root: Path) -> str:
    return (f"point it to the newest good version with `simkit rollback --index {root}` "
            f"(see `simkit versions --index {root}`) or rebuild the index")


def prune(root: Path, *, keep: int = KEEP_VERSIONS) -> list[str]:
    """Remove all but the ``keep`` newest versions; returns the removed names.

    The current version is never removed, nor is one that a reader holds open (a shared flock on
    its ``readers.lock``, see :func:`hold_version`): it stays until a later prune finds it unused.
    A version is removed while this function holds an exclusive flock on its ``readers.lock``, so
    a reader arriving meanwhile sees it as gone instead of reading half of it.
    """
    current = current_name(root)
    removed = []
    for old in published_versions(root)[:-keep] if keep > 0 else []:
        if old == current:
            continue
        path = root / VERSIONS / old
        try:
            fd = os.open(path / READERS, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:  # a version of an older simkit on a read-only directory: nobody can hold it either
            fd = None
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("version %s is open in a reader; it is removed by a later rebuild", old)
                    continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(old)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


class VersionGone(IndexLoadError):
    """The version asked for was removed (pruned) before it could be opened."""


def hold_version(root: Path, name: str) -> BinaryIO | None:
    """Take a shared flock on the version's ``readers.lock`` so that :func:`prune` keeps it while it is open.

    Returns the open lock file (closing it releases the lock), or None for a version of an older
    simkit without the file when it cannot be created (a read-only index directory): such a reader
    is not protected. Raises :class:`VersionGone` when the version is being removed or was removed.
    """
    path = root / VERSIONS / name
    try:
        handle = (path / READERS).open("rb")
    except FileNotFoundError:
        if not path.is_dir():
            raise VersionGone(f"{path}: this version was removed; open the index again") from None
        try:
            fd = os.open(path / READERS, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            return None
        handle = os.fdopen(fd, "rb")
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return None
        raise IndexLoadError(f"{path / READERS}: unreadable ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        gone = os.fstat(handle.fileno()).st_nlink == 0  # removed between the open and the lock
    except BlockingIOError:
        gone = True  # a prune holds it exclusively: the version is being removed
    except BaseException:
        handle.close()
        raise
    if gone:
        handle.close()
        raise VersionGone(f"{path}: this version was removed by a later rebuild; open the index again")
    return handle


def recover(root: Path) -> list[str]:
    """Remove what an interrupted writer left behind; returns the removed paths (relative to ``root``).

    Only call this while holding the index lock: the leftovers of a writer that is still
    running look exactly like those of a crashed one. Removes unfinished ``versions/.tmp-*``
    directories and leftover pointer files (``.CURRENT.*.tmp``); for a publish whose pointer
    swap never happened (``.CURRENT.publish.*.tmp``) also the version it would have published,
    which nobody ever served. A rollback's pointer file names a version published earlier: only
    the file goes (as does one of an older simkit, whose intent is unknown). The current
    version is never touched.
    """
    removed: list[str] = []
    if not root.is_dir():
        return removed
    current = current_name(root)
    for pointer_tmp in sorted(root.glob(f"{_POINTER_TMP}*.tmp")):
        if not pointer_tmp.is_file():
            continue
        orphan = ""
        if pointer_tmp.name.startswith(f"{_POINTER_TMP}{_PUBLISH}."):
            try:
                orphan = pointer_tmp.read_text(encoding="ascii").strip()
            except (OSError, ValueError):  # unreadable or junk: only the file goes
                orphan = ""
        if (orphan and orphan != current and _VERSION_NAME.fullmatch(orphan) and ".." not in orphan
                and (root / VERSIONS / orphan).is_dir()):
            shutil.rmtree(root / VERSIONS / orphan, ignore_errors=True)
            removed.append(f"{VERSIONS}/{orphan}")
        pointer_tmp.unlink(missing_ok=True)
        removed.append(pointer_tmp.name)
    versions = root / VERSIONS
    if versions.is_dir():
        for leftover in sorted(versions.glob(".tmp-*")):
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(f"{VERSIONS}/{leftover.name}")
    if removed:
        fsync_dir(root)
    return removed


class IndexLock:
    """An exclusive, non-blocking lock on an index directory for writers (build, rebuild, rollback).

    The lock is ``fcntl.flock`` on ``rebuild.lock``. The kernel releases a flock when its
    holder's file descriptor is closed, which includes the process dying in any way
    (kill -9, OOM, power loss): a stale lock can therefore never block the next writer,
    and taking over after a crash needs no guessing from pids or ages. The pid, host and
    start time written into the file only serve the message shown to a second writer.
    The file itself is never deleted (deleting it would let two writers lock two
    different files).
    """

    def __init__(self, root: Path, purpose: str = "rebuild") -> None:
        self.path = root / LOCK
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> IndexLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            try:
                info = json.loads(holder)
            except ValueError:
                info = None
            who = (f"a {info.get('purpose', 'rebuild')} by pid {info.get('pid')} on {info.get('host')} "
                   f"since {info.get('started')}" if isinstance(info, dict) else "another process")
            raise LockedError(f"{self.path.parent}: {who} is writing this index (it holds {self.path.name}); "
                              "try again when it has finished") from None
        except BaseException:
            os.close(fd)
            raise
        note = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        data = (note + "\n").encode("utf-8")
        try:  # written over the old note before truncating: a full disk rarely has to find room for it
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError as exc:  # the note only serves the message a second writer gets; the lock holds
            log.warning("%s: could not record the lock holder (%s)", self.path, exc.strerror or exc)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> IndexLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def discard(tmp: Path) -> None:
    """Remove an unfinished version directory."""
    shutil.rmtree(tmp, ignore_errors=True)


def resolve_current(root: Path) -> str:
    """The name of the current version, checked: ``CURRENT`` is intact and names a directory in ``versions/``.

    Raises :class:`IndexLoadError` naming the directory (no index) or ``CURRENT`` (damaged, missing
    beside published versions, naming a version that does not exist) with what to do.
    """
    pointer = root / CURRENT
    if not root.is_dir():
        raise IndexLoadError(f"{root}: no index here; build one with `simkit build REPORTS --index {root}`")
    for _ in range(3):
        name = read_current(root)
        if name is None:
            if published_versions(root):
                raise IndexLoadError(f"{pointer}: missing, though {root / VERSIONS} holds versions; "
                                     f"{_repair(root)}")
            raise IndexLoadError(f"{root}: not a simkit index (no {CURRENT} file); "
                                 f"build one with `simkit build REPORTS --index {root}`")
        if (root / VERSIONS / name).is_dir():
            return name
        if read_current(root) == name:  # else a rebuild moved CURRENT on and pruned that version meanwhile
            raise IndexLoadError(f"{pointer}: names version {name}, which is not in {root / VERSIONS}; "
                                 f"{_repair(root)}")
    raise IndexLoadError(f"{pointer}: keeps changing (rebuilds in quick succession); try again")


def current_version(root: Path) -> IndexVersion:
    """Resolve and validate the current version of the index at ``root``."""
    return load_version(root, resolve_current(root))


def load_version(root: Path, name: str) -> IndexVersion:
    """Read and check the manifest of the version ``name`` (a published or a staged one).

    ``name`` must be a plain directory name (no separator, not ``..``): a version lies inside ``versions/``.
    """
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or name != name.strip():
        raise IndexLoadError(f"{root}: {name[:60]!r} is not a version name; see `simkit versions --index {root}`")
    path = root / VERSIONS / name
    return IndexVersion(root, name, path, Manifest.read(path, remedy=_remedy(root)))


def _remedy(root: Path) -> str:
    return (f"serve the previous version with `simkit rollback --index {root}` "
            f"or rebuild the index (`simkit rebuild REPORTS --index {root}`)")


VERIFY_MODES = ("none", "sizes", "checksums")


def verify_files(version: IndexVersion, *, advise: bool = True, checksums: bool = True) -> None:
    """Check every file listed in the manifest: present, with its recorded size, and (``checksums``) its sha256.

    Sizes cost one ``stat`` per file and catch a missing, truncated or extended file; a same-size
    change (bit rot, an edit in place) is only found by the checksums, which read every byte
    (seconds per gigabyte: docs/method/benchmarks.md). Opening an index checks sizes; publication,
    rollback and ``simkit verify`` check the checksums (docs/operations.md schedules the latter).
    The error suggests a rollback or a rebuild unless ``advise`` is false (a version not yet published).
    """
    remedy = _remedy(version.root) if advise else "the version is damaged"
    entries = [(version.path / name, entry) for name, entry in version.manifest.files.items()]
    for file, entry in entries:
        if not file.is_file():
            raise IndexLoadError(f"{file}: missing from the index; {remedy}")
        size = file.stat().st_size
        if size != entry["bytes"]:
            raise IndexLoadError(
                f"{file}: checksum mismatch (truncated or extended: {size} bytes, the manifest says "
                f"{entry['bytes']}); {remedy}"
            )
    if not checksums:
        return
    # hashlib releases the GIL on large blocks: the files are hashed side by side (docs/method/benchmarks.md).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(len(entries), os.cpu_count() or 1, 4))) as pool:
        digests = list(pool.map(sha256_file, [file for file, _ in entries]))
    for (file, entry), digest in zip(entries, digests):
        if digest != entry["sha256"]:
            raise IndexLoadError(
                f"{file}: checksum mismatch (file corrupt or changed); {remedy}"
            )
