"""The report files a build or rebuild is given: collected from files and folders, parsed one by one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simkit.errors import InputError
from simkit.reading.parse import document_id_for, parse_report
from simkit.reading.records import ParsedReport


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and why; ``document_id``: the id it was given (None: not a file)."""

    file: str
    reason: str
    document_id: str | None = None


def collect_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand directories (recursively, hidden files excluded) into a sorted list of files."""
    files: list[Path] = []
    missing: list[SkippedFile] = []
    seen: set[Path] = set()

    def add(file: Path) -> None:
        if file.resolve() not in seen:  # a file named twice (or inside a named folder) is read once
            seen.add(file.resolve())
            files.append(file)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts):
                    add(p)
        elif path.is_file():
            add(path)
        else:
            missing.append(SkippedFile(str(path), f"{path}: no such file or directory; check the path"))
    return files, missing


def parse_reports(
    files: Sequence[Path], *, region: str | None = None, skip_bad: bool = True
) -> tuple[list[ParsedReport], list[SkippedFile], list[str]]:
    """Parse every file; unreadable ones are returned as skipped (or, without ``skip_bad``, raised).

    Ids are file stems, with ``-2``, ``-3``… for repeated stems in file order; an unreadable file
    keeps its id too (recorded in its :class:`SkippedFile`), so that the ids of the others do
    not shift when a file becomes unreadable.
    """
    parsed: list[ParsedReport] = []
    skipped: list[SkippedFile] = []
    warnings: list[str] = []
    used_ids: set[str] = set()
    for file in files:
        doc_id = document_id_for(file)
        suffix = 2
        while doc_id in used_ids:
            doc_id = f"{document_id_for(file)}-{suffix}"
            suffix += 1
        used_ids.add(doc_id)
        try:
            report = parse_report(file, document_id=doc_id, region=region)
        except InputError as exc:
            if not skip_bad:
                raise
            skipped.append(SkippedFile(str(file), str(exc), doc_id))
            continue
        if not report.units:
            message = f"{file}: no paragraph long enough to index; is this a report?"
            if not skip_bad:
                raise InputError(message)
            skipped.append(SkippedFile(str(file), message, doc_id))
            continue
        if report.report.region is None:
            warnings.append(f"{file}: region not detected; indexed as 'unknown' (set it with --region)")
        parsed.append(report)
    return parsed, skipped, warnings
