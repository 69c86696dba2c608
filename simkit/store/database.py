"""Paragraphs and report metadata in SQLite; a unit's ``row`` is its FAISS vector row."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from simkit.errors import IndexLoadError, NotFoundError
from simkit.fileio import write_failure
from simkit.reading.records import Paragraph, ParsedReport, Report

SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT,
    region TEXT,
    province TEXT,
    city TEXT,
    adcode TEXT,
    year INTEGER,
    issuer TEXT,
    addressee TEXT,
    published TEXT,
    doc_number TEXT,
    source_format TEXT,
    text TEXT NOT NULL,
    issuer_kind TEXT,
    department TEXT,
    report_kind TEXT,
    source TEXT,
    index_number TEXT,
    url TEXT,
    region_candidates TEXT,
    region_source TEXT,
    script TEXT,
    original_text TEXT,
    reporter TEXT
);
CREATE TABLE paragraphs (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    parent_id TEXT,
    boilerplate INTEGER NOT NULL,
    row INTEGER UNIQUE
);
CREATE INDEX paragraphs_document ON paragraphs(document_id, ordinal);
CREATE INDEX paragraphs_parent ON paragraphs(parent_id) WHERE parent_id IS NOT NULL;
-- The default search filter leaves boilerplate out: its rows are the few listed here, which a search
-- clears from an all-true mask instead of reading every other row (a million units: ~500 -> ~10 ms).
CREATE INDEX paragraphs_boilerplate_rows ON paragraphs(row) WHERE boilerplate != 0 AND row IS NOT NULL;
-- A region filter (simkit.search.filters: region or reporter) finds its reports through these instead of
-- scanning every report's row, whose columns after the report's text sit on overflow pages: one region of
-- 10,000 reports, 80 -> 0.2 ms (`similar` excludes a new region per call).
CREATE INDEX documents_region ON documents(region);
CREATE INDEX documents_reporter ON documents(replace(reporter, ' ', ''));
CREATE TABLE boilerplate_spans (
    document_id TEXT NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredUnit:
    """A paragraph as stored, joined with its report's metadata."""

    id: str
    document_id: str
    section: str
    text: str
    start: int
    end: int
    kind: str
    role: str
    parent_id: str | None
    boilerplate: bool
    row: int | None
    region: str | None
    province: str | None
    year: int | None
    title: str | None
    reporter: str = ""
    issuer_kind: str | None = None
    department: str | None = None
    original: str | None = None  # the unit in its original script (a traditional-script report), else None


# The columns documents gained with issuer kinds (simkit/reading/origin.py). A store written before them
# lacks them: it reads as if they were empty, and groups a report without a region under "unknown" as
# that simkit did (UNKNOWN_REPORTER).
_ADDED_COLUMNS = ("issuer_kind", "department", "report_kind", "source", "index_number", "url", "region_candidates",
                  "region_source", "script", "original_text", "reporter")
_REPORT_COLUMNS = ("id", "path", "sha256", "text", "title", "region", "province", "city", "adcode", "year", "issuer",
                   "addressee", "published", "doc_number", "source_format", *_ADDED_COLUMNS[:-1])
UNKNOWN_REPORTER = "unknown"  # how a store of an older simkit names reports without a region

_DOCUMENT_COLUMNS = frozenset(
    ("id", "path", "title", "region", "province", "city", "adcode", "year", "issuer", "addressee", "published",
     "doc_number", "source_format", *(c for c in _ADDED_COLUMNS if c != "original_text"))
)


def _unit(record: tuple) -> StoredUnit:
    unit = StoredUnit(*record)
    return replace(unit, boilerplate=bool(unit.boilerplate))


def write_store(path: Path, reports: Sequence[ParsedReport], rows: dict[str, int]) -> None:
    """Create a new store file holding ``reports``; ``rows`` maps indexed unit ids to vector rows.

    A failed write (SQLite's "database or disk is full") raises an ``OSError`` naming ``path``.
    """
    try:
        _write_store(path, reports, rows)
    except (sqlite3.OperationalError, OSError) as exc:
        raise write_failure(path, exc) from exc


def _write_store(path: Path, reports: Sequence[ParsedReport], rows: dict[str, int]) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SCHEMA)
        with connection:
            for parsed in reports:
                r = parsed.report
                connection.execute(
                    f"INSERT INTO documents VALUES ({','.join('?' * 26)})",
                    (r.id, r.path, r.sha256, r.title, r.region, r.province, r.city, r.adcode, r.year, r.issuer,
                     r.addressee, r.published, r.doc_number, r.source_format, r.text, r.issuer_kind, r.department,
                     r.report_kind, r.source, r.index_number, r.url, "|".join(r.region_candidates) or None,
                     r.region_source, r.script, r.original_text, r.reporter),
                )
                connection.executemany(
                    "INSERT INTO paragraphs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(p.id, p.document_id, i, p.section, p.text, p.start, p.end, p.kind, p.role, p.parent_id,
                      int(p.boilerplate), rows.get(p.id))
                     for i, p in enumerate(parsed.paragraphs)],
                )
                connection.executemany(
                    "INSERT INTO boilerplate_spans VALUES (?,?,?)",
                    [(r.id, start, end) for start, end in parsed.boilerplate_spans],
                )
    finally:
        connection.close()


class Store:
    """Read-only access to an index's SQLite store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self._db.execute("SELECT count(*) FROM paragraphs").fetchone()
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        except sqlite3.DatabaseError as exc:
            raise IndexLoadError(
                f"{path}: store is not a readable SQLite database ({exc}); rebuild the index"
            ) from exc
        self.columns = frozenset(columns)
        #: The SQL of a report's reporter (see simkit.reading.records.reporter_label) over ``documents d``.
        self.reporter_sql = ("d.reporter" if "reporter" in columns
                             else f"COALESCE(NULLIF(d.region, ''), '{UNKNOWN_REPORTER}')")
        self._unit_select = (
            'SELECT p.id, p.document_id, p.section, p.text, p.start, p."end", p.kind, p.role, p.parent_id, '
            "p.boilerplate, p.row, d.region, d.province, d.year, d.title, "
            f"{self.reporter_sql}, {self._column('issuer_kind')}, {self._column('department')}, "
            + ('CASE WHEN d.original_text IS NULL THEN NULL '
               'ELSE substr(d.original_text, p.start + 1, p."end" - p.start) END '
               if "original_text" in columns else "NULL ")
            + "FROM paragraphs p JOIN documents d ON d.id = p.document_id"
        )

    def _column(self, name: str) -> str:
        """``d.name``, or NULL for a column a store of an older simkit does not have."""
        return f"d.{name}" if name in self.columns else "NULL"

    def close(self) -> None:
        self._db.close()

    def counts(self) -> dict[str, int]:
        """Number of documents, paragraphs (all kinds) and indexed units."""
        one = self._db.execute
        return {
            "documents": one("SELECT count(*) FROM documents").fetchone()[0],
            "paragraphs": one("SELECT count(*) FROM paragraphs").fetchone()[0],
            "units": one("SELECT count(*) FROM paragraphs WHERE row IS NOT NULL").fetchone()[0],
        }

    def units_at(self, rows: Iterable[int]) -> dict[int, StoredUnit]:
        """The units stored at the given vector rows."""
        wanted = [int(r) for r in rows]
        found: dict[int, StoredUnit] = {}
        for chunk_start in range(0, len(wanted), 500):
            chunk = wanted[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            for record in self._db.execute(f"{self._unit_select} WHERE p.row IN ({marks})", chunk):
                unit = _unit(record)
                found[unit.row] = unit  # type: ignore[index]
        return found

    def unit(self, paragraph_id: str) -> StoredUnit:
        """One paragraph by id; :class:`NotFoundError` if the index has no such paragraph."""
        record = self._db.execute(f"{self._unit_select} WHERE p.id = ?", (paragraph_id,)).fetchone()
        if record is None:
            raise NotFoundError(f"{paragraph_id}: no such paragraph in {self.path.parent}; "
                                "ids are shown by `simkit search --json`")
        return _unit(record)

    def rows_by_region(self, roles: Sequence[str]) -> dict[str, np.ndarray]:
        """Vector rows of non-boilerplate units with one of ``roles``, per reporter (the region, a department
        of it, or a report without a region on its own: :func:`simkit.reading.records.reporter_label`)."""
        marks = ",".join("?" * len(roles))
        records = self._db.execute(
            f"SELECT {self.reporter_sql}, p.row "
            "FROM paragraphs p JOIN documents d ON d.id = p.document_id "
            f"WHERE p.row IS NOT NULL AND p.boilerplate = 0 AND p.role IN ({marks}) ORDER BY p.row",
            tuple(roles),
        ).fetchall()
        grouped: dict[str, list[int]] = {}
        for region, row in records:
            grouped.setdefault(region, []).append(int(row))
        return {region: np.asarray(rows, dtype=np.int64) for region, rows in grouped.items()}

    def unit_records(self, roles: Sequence[str]) -> list[tuple[str, str, int | None, str, str, int]]:
        """``(id, reporter, year, role, text, row)`` of the non-boilerplate indexed units with one of ``roles``."""
        marks = ",".join("?" * len(roles))
        return self._db.execute(
            f"SELECT p.id, {self.reporter_sql}, d.year, p.role, p.text, p.row "
            "FROM paragraphs p JOIN documents d ON d.id = p.document_id "
            f"WHERE p.row IS NOT NULL AND p.boilerplate = 0 AND p.role IN ({marks}) ORDER BY p.id",
            tuple(roles),
        ).fetchall()

    def unit_formula_spans(self, roles: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
        """The formula (boilerplate) spans inside each non-boilerplate indexed unit with one of ``roles``.

        ``{paragraph id: [(start, end), ...]}``, offsets into the unit's own text; units without any are left out.
        """
        marks = ",".join("?" * len(roles))
        found: dict[str, list[tuple[int, int]]] = {}
        for pid, p_start, p_end, start, end in self._db.execute(
                f'SELECT p.id, p.start, p."end", b.start, b."end" FROM paragraphs p '
                "JOIN boilerplate_spans b ON b.document_id = p.document_id "
                f'WHERE p.row IS NOT NULL AND p.boilerplate = 0 AND p.role IN ({marks}) '
                f'AND b.start < p."end" AND b."end" > p.start ORDER BY p.id, b.start', tuple(roles)):
            found.setdefault(pid, []).append((max(start, p_start) - p_start, min(end, p_end) - p_start))
        return found

    def children_of(self, paragraph_id: str) -> list[StoredUnit]:
        """The measures cut from a parent paragraph, in reading order."""
        records = self._db.execute(f"{self._unit_select} WHERE p.parent_id = ? ORDER BY p.ordinal", (paragraph_id,))
        return [_unit(record) for record in records]

    def documents(self) -> list[dict[str, object]]:
        """Metadata of every report in the index (without text)."""
        added = ", ".join(f"{self._column(c)} AS {c}" for c in _ADDED_COLUMNS if c != "original_text")
        cursor = self._db.execute(
            "SELECT id, path, sha256, title, region, province, city, adcode, year, issuer, addressee, published, "
            f"doc_number, source_format, {added.replace('d.', '')} "
            "FROM documents ORDER BY id"
        )
        names = [c[0] for c in cursor.description]
        documents = [dict(zip(names, record)) for record in cursor]
        for doc in documents:
            doc["region_candidates"] = [c for c in (doc["region_candidates"] or "").split("|") if c]
            if doc["reporter"] is None:
                doc["reporter"] = doc["region"] or UNKNOWN_REPORTER
        return documents

    def report(self, document_id: str) -> ParsedReport:
        """A stored report with all its paragraphs and boilerplate spans, as it was indexed."""
        columns = ", ".join(c if c in self.columns else f"NULL AS {c}" for c in _REPORT_COLUMNS)
        cursor = self._db.execute(f"SELECT {columns} FROM documents WHERE id = ?", (document_id,))
        record = cursor.fetchone()
        if record is None:
            raise NotFoundError(f"{document_id}: no such report in {self.path.parent}")
        values = dict(zip(_REPORT_COLUMNS, record))
        values["region_candidates"] = tuple(c for c in (values["region_candidates"] or "").split("|") if c)
        values["report_kind"] = values["report_kind"] or "report"
        report = Report(**values)
        paragraphs = [
            Paragraph(*row[:9], boilerplate=bool(row[9]))
            for row in self._db.execute(
                'SELECT id, document_id, section, text, start, "end", kind, role, parent_id, boilerplate '
                "FROM paragraphs WHERE document_id = ? ORDER BY ordinal", (document_id,))
        ]
        spans = [(int(a), int(b)) for a, b in self._db.execute(
            'SELECT start, "end" FROM boilerplate_spans WHERE document_id = ? ORDER BY start', (document_id,))]
        return ParsedReport(report, paragraphs, spans)

    def boilerplate_rows(self) -> np.ndarray:
        """Sorted vector rows (int64) of the indexed units flagged as boilerplate (read through a partial
        index where the store has one, as every store of this simkit does)."""
        cursor = self._db.execute("SELECT row FROM paragraphs WHERE boilerplate != 0 AND row IS NOT NULL")
        return np.sort(np.fromiter((record[0] for record in cursor), dtype=np.int64))

    def rows_where(self, where: str, params: Sequence[object] = ()) -> np.ndarray:
        """Sorted vector rows (int64) of the indexed units matching an SQL condition.

        ``where`` is a condition over ``paragraphs p JOIN documents d``, built by simkit itself
        (see :mod:`simkit.search.filters`); values go in ``params``, never into the text.
        """
        # Reports first (CROSS JOIN keeps that order), then their paragraphs by index, sorted here: a
        # filter on report metadata (a region, a province) then reads only its reports' paragraphs,
        # where SQLite would otherwise walk every paragraph in row order (timed in
        # docs/method/benchmarks.md).
        cursor = self._db.execute(
            "SELECT p.row FROM documents d CROSS JOIN paragraphs p ON p.document_id = d.id "
            f"WHERE p.row IS NOT NULL AND ({where})",
            tuple(params),
        )
        return np.sort(np.fromiter((record[0] for record in cursor), dtype=np.int64))

    def document_values(self, column: str) -> set[object]:
        """Distinct values of one ``documents`` metadata column (``region``, ``province``, ``year``, …)."""
        if column not in _DOCUMENT_COLUMNS:
            raise ValueError(f"not a documents column: {column!r}")
        return {record[0] for record in self._db.execute(f"SELECT DISTINCT {column} FROM documents")}
