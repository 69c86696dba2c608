"""``simkit ingest``: every unit of some reports as JSON lines, without embedding anything."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from simkit.errors import BuildError, InputError
from simkit.fileio import output_writer
from simkit.pipeline.sources import ReportPaths, SkippedFile, collect_files, parse_reports, read_metadata
from simkit.reading.boilerplate import flag_reports
from simkit.reading.records import ParsedReport


@dataclass(frozen=True)
class IngestResult:
    """What ``simkit ingest`` wrote."""

    out: str
    documents: int
    units: int
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def ingest_reports(
    paths: ReportPaths, *, region: str | None = None, skip_bad: bool = False,
    metadata: str | os.PathLike[str] | None = None,
) -> tuple[list[ParsedReport], list[SkippedFile], list[str]]:
    """Read reports from files and folders and flag their boilerplate against each other.

    Without ``skip_bad`` the first unreadable file, missing path or folder that cannot be listed
    raises :class:`InputError`; with it they are returned as skipped.
    """
    files, missing = collect_files(paths)
    if missing and not skip_bad:
        raise InputError(missing[0].reason)
    known = read_metadata(metadata, files)
    parsed, bad, warnings = parse_reports(files, region=region, skip_bad=skip_bad, metadata=known)
    parsed, _ = flag_reports(parsed)
    return parsed, missing + bad, warnings


def unit_records(parsed: ParsedReport) -> list[dict[str, Any]]:
    """JSON-ready records of a report's units and parent paragraphs, with report metadata."""
    r = parsed.report
    meta = {"document": r.id, "title": r.title, "region": r.region, "province": r.province, "city": r.city,
            "adcode": r.adcode, "year": r.year, "issuer": r.issuer, "issuer_kind": r.issuer_kind,
            "department": r.department, "reporter": r.reporter, "report_kind": r.report_kind,
            "published": r.published}
    return [
        {"id": p.id, **meta, "section": p.section, "kind": p.kind, "role": p.role, "parent_id": p.parent_id,
         "boilerplate": p.boilerplate, "formula_spans": [list(span) for span in parsed.formula_spans_in(p)],
         "start": p.start, "end": p.end, "text": p.text}
        for p in parsed.paragraphs
        if p.kind in ("paragraph", "measure", "parent")
    ]


def write_units_jsonl(
    paths: ReportPaths, out: Path | TextIO, *, region: str | None = None, skip_bad: bool = False,
    metadata: str | os.PathLike[str] | None = None,
) -> IngestResult:
    """Write every unit of the given reports to ``out`` as JSON lines.

    ``out`` is a path, replaced atomically when it is a file (written through when it is a device
    or FIFO, see :func:`simkit.fileio.atomic_writer`), or an open text stream (``sys.stdout``).
    Nothing is written unless some report could be read.
    """
    parsed, skipped, warnings = ingest_reports(paths, region=region, skip_bad=skip_bad, metadata=metadata)
    if not parsed:
        raise BuildError(f"no readable report to ingest ({'; '.join(s.reason for s in skipped) or 'no files'})")
    count = 0
    with output_writer(out) as handle:
        for report in parsed:
            for record in unit_records(report):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    return IngestResult(str(out) if isinstance(out, str | os.PathLike) else "-", len(parsed), count, skipped,
                        warnings)
