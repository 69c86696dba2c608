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
    IndexLock,
    current_name,
    current_version,
    load_version,
    published_versions,
    recover,
    set_current,
    verify_files,
)

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


def list_versions(root: str | os.PathLike[str]) -> list[VersionInfo]:
    """The published versions, oldest first, read from their manifests (not verified)."""
    root = arguments.path("root", root)
    if not root.is_dir() or current_name(root) is None:
        current_version(root)  # raises the usual "no index here" error
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


def rollback(index_dir: str | os.PathLike[str], version: str | None = None) -> tuple[str | None, str]:
    """Point the index back to ``version`` (default: the newest version older than the current one).

    The target is verified (manifest and checksums) before the switch. Returns (from, to).
    """
    root = arguments.path("index_dir", index_dir)
    version = arguments.optional_text("version", version)
    if current_name(root) is None:
        current_version(root)  # not an index: the usual "build one" error, and no lock file left behind
    with IndexLock(root, "rollback"):
        recover(root)
        names = published_versions(root)
        current = current_name(root)
        if version is None:
            older = [n for n in names if current is None or n < current]
            if not older:
                raise NotFoundError(f"{root}: no version older than {current} to roll back to; "
                                    "see `simkit versions`")
            version = older[-1]
        elif version not in names:
            raise NotFoundError(f"{root}: no version {version!r}; see `simkit versions --index {root}`")
        target = load_version(root, version)
        verify_files(target)
        set_current(root, version)
    log.info("CURRENT now points to %s (was %s)", version, current)
    return current, version
