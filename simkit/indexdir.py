"""On-disk layout of an index directory, its manifest, and atomic publication.

An index directory holds immutable versions and a pointer to the current one::

    INDEX_DIR/
      CURRENT                  one line: the name of the current version
      versions/<version>/
        manifest.json          format_version, model, counts, checksums, library versions
        vectors.faiss          FAISS's own format; row i is the vector of store unit row i
        store.sqlite           reports and paragraphs (SQLite)
        phrases.json           trigrams common across regions (boilerplate detection)
        lexical.*              BM25 index over Chinese words (see simkit.lexical)

A build writes a new version in a hidden temporary directory, fsyncs it,
renames it into ``versions/`` and then replaces ``CURRENT`` with
``os.replace``: readers see either the old version or the new one, never a
half-written one. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import IndexLoadError
from .fileio import fsync_dir, sha256_file, write_json

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
STORE = "store.sqlite"
PHRASES = "phrases.json"
CURRENT = "CURRENT"
VERSIONS = "versions"
KEEP_VERSIONS = 3


@dataclass(frozen=True)
class IndexVersion:
    """One published version of an index, with its parsed manifest."""

    root: Path
    name: str
    path: Path
    manifest: dict[str, Any]


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def new_version_dir(root: Path) -> tuple[str, Path]:
    """A fresh temporary directory inside ``root/versions`` and the version name it will get."""
    versions = root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    name = time.strftime("v%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}-{os.urandom(2).hex()}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=versions))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it owner-only; readers may run as another user
    return name, tmp


def publish(root: Path, name: str, tmp: Path) -> Path:
    """Make the version in ``tmp`` current: fsync, rename into place, swap ``CURRENT`` atomically."""
    for file in tmp.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(tmp)
    final = root / VERSIONS / name
    os.replace(tmp, final)
    fsync_dir(final.parent)
    pointer_tmp = root / f".{CURRENT}.{os.getpid()}.tmp"
    with pointer_tmp.open("w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, root / CURRENT)
    fsync_dir(root)
    _prune(root, keep=KEEP_VERSIONS, current=name)
    return final


def _prune(root: Path, *, keep: int, current: str) -> None:
    versions = root / VERSIONS
    published = sorted(p for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in published[:-keep]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def discard(tmp: Path) -> None:
    """Remove an unfinished version directory."""
    shutil.rmtree(tmp, ignore_errors=True)


def current_version(root: Path) -> IndexVersion:
    """Resolve and validate the current version of the index at ``root``."""
    pointer = root / CURRENT
    if not root.is_dir():
        raise IndexLoadError(f"{root}: no index here; build one with `simkit build REPORTS --index {root}`")
    if not pointer.is_file():
        raise IndexLoadError(f"{root}: not a simkit index (no {CURRENT} file); "
                             f"build one with `simkit build REPORTS --index {root}`")
    name = pointer.read_text(encoding="utf-8").strip()
    path = root / VERSIONS / name
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{manifest_path}: missing or unreadable manifest; rebuild the index") from exc
    if (not isinstance(manifest, dict) or not isinstance(manifest.get("model"), dict)
            or not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("counts"), dict)
            or not all(isinstance(e, dict) and {"sha256", "bytes"} <= set(e) for e in manifest["files"].values())):
        raise IndexLoadError(f"{manifest_path}: manifest is incomplete or damaged; rebuild the index")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"{manifest_path}: index format {manifest.get('format_version')} is not supported "
            f"(this simkit reads format {FORMAT_VERSION}); rebuild the index"
        )
    return IndexVersion(root, name, path, manifest)


def verify_files(version: IndexVersion) -> None:
    """Check every file listed in the manifest against its size and sha256."""
    for name, entry in version.manifest.get("files", {}).items():
        file = version.path / name
        if not file.is_file():
            raise IndexLoadError(f"{file}: missing from the index; rebuild the index")
        if file.stat().st_size != entry["bytes"] or sha256_file(file) != entry["sha256"]:
            raise IndexLoadError(
                f"{file}: checksum mismatch (file corrupt or changed); rebuild the index"
            )


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    write_json(path / MANIFEST, manifest)
