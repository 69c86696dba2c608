"""Metadata kept beside reports: a spreadsheet of what was collected, or a ``NAME.json`` next to a report.

Analysts record what they know of each file (its region, year, issuer, where it was found). Both forms
override what is read from the text:

- a CSV file given with ``--metadata reports.csv``: a header row, then one row per report. The ``file``
  column names the report (a path relative to the CSV's folder, or as given on the command line, or
  just its file name when that is unique); the other columns are those of :data:`FIELDS`, any of them
  empty or absent;
- a JSON object beside a report, ``REPORT.json`` or ``REPORT.EXT.json`` (``shishi-2024.json`` or
  ``shishi-2024.html.json`` for ``shishi-2024.html``), with the same keys.

Values are checked when they are read: an unknown region or admin code, a year that is not one, a
date that is not a date is an :class:`~simkit.errors.InputError` naming the file and row.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simkit.errors import InputError
from simkit.reading.issuers import ISSUER_KINDS
from simkit.reading.records import REPORT_KINDS
from simkit.reading.regions import RegionInfo, lookup, lookup_adcode

__all__ = ["FIELDS", "Metadata", "check", "is_sidecar", "match_rows", "read_csv", "read_sidecar", "sidecar_path"]

#: The metadata a CSV column or JSON key may set (``region`` is a name, ``adcode`` a 6-digit code).
FIELDS = ("region", "adcode", "year", "issuer", "issuer_kind", "department", "url", "published", "title",
          "report_kind", "source")


@dataclass(frozen=True)
class Metadata:
    """Checked metadata of one report; ``where`` names where it was read (``reports.csv line 3``)."""

    where: str
    region: RegionInfo | None = None
    region_name: str | None = None
    year: int | None = None
    issuer: str | None = None
    issuer_kind: str | None = None
    department: str | None = None
    url: str | None = None
    published: str | None = None
    title: str | None = None
    report_kind: str | None = None
    source: str | None = None
    file: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def merged_over(self, other: Metadata | None) -> Metadata:
        """This metadata with ``other``'s values where this has none (a CSV row over a ``NAME.json``)."""
        if other is None:
            return self
        values = {name: getattr(self, name) if getattr(self, name) is not None else getattr(other, name)
                  for name in ("region", "region_name", "year", "issuer", "issuer_kind", "department", "url",
                               "published", "title", "report_kind", "source")}
        return Metadata(f"{self.where} and {other.where}", file=self.file, **values)


def _date(value: str, where: str) -> str:
    m = re.fullmatch(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?", value)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        if 1949 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31:
            return f"{y:04d}-{mo:02d}-{d:02d}"
    raise InputError(f"{where}: published {value!r} is not a date; write it as 2024-03-28")


def check(values: Mapping[str, object], where: str) -> Metadata:
    """Metadata from raw values (a CSV row, a JSON object), checked; unknown keys are kept in ``extra``."""
    clean = {str(k).strip().lower(): ("" if v is None else str(v).strip()) for k, v in values.items() if k}
    region: RegionInfo | None = None
    region_name = clean.get("region") or None
    if clean.get("adcode"):
        code = clean["adcode"]
        region = lookup_adcode(code)
        if region is None:
            raise InputError(f"{where}: adcode {code!r} is not a known region's 6-digit code (GB/T 2260), e.g. 350581")
        if region_name and lookup(region_name) not in (None, region):
            raise InputError(f"{where}: region {region_name!r} and adcode {code} name different regions; "
                             "give one of them")
    elif region_name:
        region = lookup(region_name)
        if region is None:
            raise InputError(f"{where}: region {region_name!r} is not a known region or is ambiguous; write its full "
                             "name with its city (福州市鼓楼区) or its 6-digit adcode")
    year = None
    if clean.get("year"):
        if not re.fullmatch(r"(?:19|20)\d\d", clean["year"]):
            raise InputError(f"{where}: year {clean['year']!r} is not a year such as 2023")
        year = int(clean["year"])
    kind = clean.get("issuer_kind") or None
    if kind is not None and kind not in ISSUER_KINDS:
        raise InputError(f"{where}: issuer_kind {kind!r} is not one of {', '.join(ISSUER_KINDS)}")
    report_kind = clean.get("report_kind") or None
    if report_kind is not None and report_kind not in REPORT_KINDS:
        raise InputError(f"{where}: report_kind {report_kind!r} is not one of {', '.join(REPORT_KINDS)}")
    published = _date(clean["published"], where) if clean.get("published") else None
    extra = {k: v for k, v in clean.items() if k not in FIELDS and k != "file" and v}
    return Metadata(
        where, region=region, region_name=region.name if region else None, year=year,
        issuer=clean.get("issuer") or None, issuer_kind=kind, department=clean.get("department") or None,
        url=clean.get("url") or None, published=published, title=clean.get("title") or None,
        report_kind=report_kind, source=clean.get("source") or None, file=clean.get("file") or None, extra=extra,
    )


def read_csv(path: str | Path) -> list[Metadata]:
    """The rows of a metadata spreadsheet saved as CSV (UTF-8, with or without BOM, or GBK), checked."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: metadata file cannot be read ({exc.strerror or exc}); check the path") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "file" not in columns:
        raise InputError(f"{path}: metadata CSV has no 'file' column; the first row names the columns "
                         f"(file, {', '.join(FIELDS)})")
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        meta = check(row, f"{path} line {number}")
        if not meta.file:
            raise InputError(f"{path} line {number}: the 'file' column is empty; name the report file")
        rows.append(meta)
    return rows


def match_rows(rows: Iterable[Metadata], files: list[Path], csv_path: str | Path) -> dict[Path, Metadata]:
    """The report file each row names, among ``files``; a row naming none of them is an error."""
    base = Path(csv_path).parent
    resolved = {_key(f): f for f in files}
    by_name: dict[str, list[Path]] = {}
    for f in files:
        by_name.setdefault(f.name, []).append(f)
    matched: dict[Path, Metadata] = {}
    for row in rows:
        name = row.file or ""
        found = resolved.get(_key(base / name)) or resolved.get(_key(Path(name)))
        if found is None:
            same = by_name.get(Path(name).name, [])
            if len(same) == 1 and Path(name).name == name:
                found = same[0]
            elif len(same) > 1:
                raise InputError(f"{row.where}: file {name!r} matches {len(same)} reports; give its path relative "
                                 f"to {base}")
        if found is None:
            raise InputError(f"{row.where}: file {name!r} is not among the reports given (looked in {base} and "
                             "the paths given); fix the name or remove the row")
        if found in matched:
            raise InputError(f"{row.where}: file {name!r} is named again ({matched[found].where})")
        matched[found] = row
    return matched


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def sidecar_path(report: Path) -> Path | None:
    """The ``NAME.json`` beside a report (``a.html.json`` first, then ``a.json``), if there is one."""
    for candidate in (report.with_name(report.name + ".json"), report.with_suffix(".json")):
        if candidate != report and candidate.is_file():
            return candidate
    return None


def read_sidecar(report: Path) -> Metadata | None:
    """The checked metadata of a report's ``NAME.json``, or None when it has none."""
    path = sidecar_path(report)
    if path is None:
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: metadata beside {report.name} is not readable JSON ({exc}); fix or remove it") \
            from exc
    if not isinstance(values, dict):
        raise InputError(f"{path}: metadata beside {report.name} must be one JSON object "
                         f"({{\"region\": \"石狮市\", \"year\": 2024, …}})")
    return check(values, str(path))


def is_sidecar(path: Path) -> bool:
    """Whether a ``.json`` file is the metadata of a report beside it (and so not a report itself)."""
    if path.suffix.lower() != ".json":
        return False
    inner = path.with_suffix("")
    if inner.suffix and inner.is_file():
        return True
    siblings = path.parent.glob(glob.escape(path.stem) + ".*")
    return any(p != path and p.stem == path.stem and p.is_file() for p in siblings)

