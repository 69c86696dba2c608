"""The published versions of an index: listing them, rolling back, and the last rebuild's result."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simkit import arguments
from simkit.errors import IndexLoadError, NotFoundError
from simkit.store.layout import (
    CURRENT,
    IndexLock,
    current_name,
    load_version,
    published_versions,
    recover,
    resolve_current,
    set_current,
    verify_files,
)
from simkit.store.parts import IndexParts

log = logging.getLogger("simkit.pipeline.rebuild")

LAST_REPORT = "last_rebuild.json"  # at the index root: the last rebuild's RebuildResult as JSON


@dataclass(frozen=True)
class VersionInfo:
    """One published version, as listed by ``simkit versions``."""

    name: str
    current: bool
    created_at: str | None
    model: str | None
    documents: int | None
    units: int | None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_report(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The report of the last rebuild of the index at ``root`` (None if it never had one)."""
    try:
        data = json.loads((Path(root) / LAST_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _require_index(root: Path) -> None:
    """Raise the usual "no index here" error unless ``root`` holds a ``CURRENT`` file or published versions.

    A damaged ``CURRENT`` is no reason to refuse: listing versions and rolling back are how it is repaired.
    """
    if not root.is_dir() or not ((root / CURRENT).exists() or published_versions(root)):
        resolve_current(root)


def list_versions(root: str | os.PathLike[str]) -> list[VersionInfo]:
    """The published versions, oldest first, read from their manifests (checksum and fields checked; the
    other files are not verified). Works with a damaged ``CURRENT`` (no version is marked current then;
    :func:`simkit.store.layout.pointer_problem` says what is wrong with it)."""
    root = arguments.path("root", root)
    _require_index(root)
    current = current_name(root)
    found = []
    for name in published_versions(root):
        try:
            manifest = load_version(root, name).manifest
        except IndexLoadError as exc:
            found.append(VersionInfo(name, name == current, None, None, None, None, str(exc)))
            continue
        counts = manifest.counts
        found.append(VersionInfo(name, name == current, manifest.created_at, manifest.model.get("name"),
                                 counts.get("documents"), counts.get("units")))
    return found


@dataclass(frozen=True)
class VersionCheck:
    """What ``simkit verify`` found for one version: every file's checksum, and whether it opens."""

    name: str
    current: bool
    files: int
    bytes: int
    seconds: float
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify_index(index_dir: str | os.PathLike[str], *, all_versions: bool = False) -> list[VersionCheck]:
    """Hash every file of the current version (``all_versions``: of every published version) against its
    manifest and open it as a reader does; one :class:`VersionCheck` per version, oldest first.

    Opening an index only checks its files' sizes (:func:`simkit.store.layout.verify_files`), so a
    same-size change (bit rot) is found here: operations schedule ``simkit verify`` (docs/operations.md).
    A damaged version is reported in its check, not raised; a damaged ``CURRENT`` raises
    :class:`~simkit.errors.IndexLoadError` unless ``all_versions`` is given.
    """
    import time

    root = arguments.path("index_dir", index_dir)
    _require_index(root)
    current = current_name(root)
    names = published_versions(root) if all_versions else [resolve_current(root)]
    checks = []
    for name in names:
        started = time.perf_counter()
        files = size = 0
        problem = None
        try:
            version = load_version(root, name)
            files = len(version.manifest.files)
            size = sum(int(entry["bytes"]) for entry in version.manifest.files.values())
            verify_files(version)
            IndexParts.open(root, version=name, verify=False).close()
        except IndexLoadError as exc:
            problem = str(exc)
        checks.append(VersionCheck(name, name == current, files, size, round(time.perf_counter() - started, 3),
                                   problem))
    return checks


def rollback(index_dir: str | os.PathLike[str], version: str | None = None) -> tuple[str | None, str]:
    """Point the index back to ``version`` (default: the newest version older than the current one).

    The target is verified (manifest, checksums, and opened as a reader opens it) before the
    switch. Returns (from, to); "from" is None when ``CURRENT`` was missing or damaged. With a
    damaged ``CURRENT`` (or one naming a version that is gone) and no ``version``, the newest
    published version that verifies is chosen: this is how a broken pointer is repaired.
    """
    root = arguments.path("index_dir", index_dir)
    version = arguments.optional_text("version", version)
    _require_index(root)  # not an index: the usual "build one" error, and no lock file left behind
    with IndexLock(root, "rollback"):
        recover(root)
        names = published_versions(root)
        current = current_name(root)
        if current is not None and current not in names:
            current = None  # names a version that is gone: as good as damaged
        if version is None and current is None:
            version = _newest_good(root, names)
        elif version is None:
            older = [n for n in names if n < current]
            if not older:
                raise NotFoundError(f"{root}: no version older than {current} to roll back to; "
                                    "see `simkit versions`")
            version = older[-1]
            _check_target(root, version)
        elif version not in names:
            raise NotFoundError(f"{root}: no version {version[:80]!r}; see `simkit versions --index {root}`")
        else:
            _check_target(root, version)
        set_current(root, version)
    log.info("CURRENT now points to %s (was %s)", version, current)
    return current, version


def _check_target(root: Path, name: str) -> None:
    """Verify a version a rollback would serve: manifest, checksums, and open it as a reader does."""
    verify_files(load_version(root, name))
    IndexParts.open(root, version=name, verify=False).close()


def _newest_good(root: Path, names: list[str]) -> str:
    """The newest of ``names`` that verifies (see :func:`_check_target`); NotFoundError when none does."""
    problems = []
    for name in reversed(names):
        try:
            _check_target(root, name)
            return name
        except IndexLoadError as exc:
            log.warning("version %s cannot be served: %s", name, exc)
            problems.append(name)
    raise NotFoundError(f"{root}: no published version verifies ({', '.join(problems) or 'there is none'}); "
                        f"rebuild the index (`simkit rebuild REPORTS --index {root}`)")
