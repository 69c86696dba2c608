"""The units a clustering works on: clusterable roles, and a table of units with their vectors."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from simkit.reading.records import Paragraph, ParsedReport
    from simkit.store.parts import IndexParts

CLUSTER_ROLES = ("measure", "leadership", "plan")
CARRIED_OUT = ("measure", "leadership")
FORMULA_SHARE = 0.95  # a sentence at least this much inside formula spans is formula (measured: method doc)
STATISTICS_DIGITS = 0.2  # digits this share of a sentence's characters, with few words: statistics
MIN_CONTENT_HAN = 8  # fewer Chinese characters than this once numbers and counters are removed: statistics
_NUMBER = re.compile(r"[\d.,，%％]+\s*[余多]?\s*"
                     r"(?:[万亿千百]?[元件次个家人名项条场批户起篇期所类份余]|万人次|人次|小时|天|年|月|日)?")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class UnitTable:
    """The units to cluster, sorted by paragraph id, with their vectors (L2-normalized rows)."""

    ids: list[str]
    regions: list[str]
    years: list[int | None]
    roles: list[str]
    texts: list[str]
    vectors: np.ndarray
    rows: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, records: Sequence[tuple[str, str, int | None, str, str, int]], vectors: np.ndarray) -> UnitTable:
        """From ``(id, region, year, role, text, row)`` records; ``vectors[row]`` is each record's vector."""
        return cls._sorted(records, lambda rows: vectors[rows], int(vectors.shape[1]))

    @classmethod
    def _sorted(cls, records: Sequence[tuple[str, str, int | None, str, str, int]],
                fetch: Any, dimension: int) -> UnitTable:
        """The records sorted by id; ``fetch(rows)`` returns the vectors of those rows, in that order."""
        ordered = sorted(records, key=lambda r: r[0])
        rows = [int(r[5]) for r in ordered]
        matrix = np.ascontiguousarray(fetch(rows), dtype=np.float32) if rows else np.zeros((0, dimension),
                                                                                           np.float32)
        return cls([r[0] for r in ordered], [r[1] for r in ordered], [r[2] for r in ordered],
                   [r[3] for r in ordered], [r[4] for r in ordered], matrix, rows)

    @classmethod
    def from_parts(cls, parts: IndexParts) -> UnitTable:
        """The clusterable units of an opened index version (only their vectors are read from the FAISS index)."""
        return cls._sorted(parts.store.unit_records(CLUSTER_ROLES), parts.vectors_at, parts.dimension)

    @classmethod
    def from_build(cls, parsed: Sequence[ParsedReport], units: Sequence[Paragraph], vectors: np.ndarray) -> UnitTable:
        """The clusterable units of a build in progress (``vectors[i]`` belongs to ``units[i]``)."""
        reports = {p.report.id: p.report for p in parsed}
        records = []
        for row, unit in enumerate(units):
            if unit.boilerplate or unit.role not in CLUSTER_ROLES:
                continue
            report = reports[unit.document_id]
            records.append((unit.id, report.region or "unknown", report.year, unit.role, unit.text, row))
        return cls.of(records, vectors)


def is_statistics(text: str) -> bool:
    """Whether a sentence only counts things: many digits and little else once the numbers are removed."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return True
    digits = sum(c.isdigit() for c in chars)
    rest = len(_HAN.findall(_NUMBER.sub("", text)))
    return rest < MIN_CONTENT_HAN or (digits / len(chars) >= STATISTICS_DIGITS and rest < 3 * MIN_CONTENT_HAN)


def formula_share(span: tuple[int, int], formula: Sequence[tuple[int, int]]) -> float:
    """The share of ``span``'s characters inside the ``formula`` spans (which may overlap each other)."""
    s, e = span
    if e <= s:
        return 0.0
    covered = np.zeros(e - s, dtype=bool)
    for a, b in formula:
        if a < e and b > s:
            covered[max(a, s) - s:min(b, e) - s] = True
    return float(covered.mean())


@dataclass
class SentenceTable(UnitTable):
    """Sentences of clusterable units, as a table of their own (``ids`` are ``UNIT_ID@START``).

    ``unit_ids`` names each sentence's unit (``rows``: the unit's vector row), ``spans`` its [start, end) in the
    unit's text, ``sentence_rows`` its row among the index's sentence vectors and ``unit_texts`` the units'
    texts. Formula sentences (mostly inside the report's boilerplate spans) and pure statistics
    (:func:`is_statistics`) are left out.
    """

    unit_ids: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    sentence_rows: list[int] = field(default_factory=list)
    unit_texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_units(cls, units: UnitTable, offsets: np.ndarray, spans: Any, fetch: Callable[[list[int]], np.ndarray],
                 formula: dict[str, list[tuple[int, int]]]) -> SentenceTable:
        """The sentences of ``units``: ``offsets[row]:offsets[row + 1]`` are a unit row's sentences, ``spans``
        their spans, ``fetch(sentence_rows)`` their vectors; ``formula`` the formula spans of each unit id."""
        ids: list[str] = []
        regions: list[str] = []
        years: list[int | None] = []
        roles: list[str] = []
        texts: list[str] = []
        rows: list[int] = []
        unit_ids: list[str] = []
        kept_spans: list[tuple[int, int]] = []
        sentence_rows: list[int] = []
        for i, row in enumerate(units.rows):
            text = units.texts[i]
            own = formula.get(units.ids[i], [])
            for srow in range(int(offsets[row]), int(offsets[row + 1])):
                s, e = (int(x) for x in spans[srow])
                sentence = text[s:e]
                if formula_share((s, e), own) >= FORMULA_SHARE or is_statistics(sentence):
                    continue
                ids.append(f"{units.ids[i]}@{s}")
                regions.append(units.regions[i])
                years.append(units.years[i])
                roles.append(units.roles[i])
                texts.append(sentence)
                rows.append(row)
                unit_ids.append(units.ids[i])
                kept_spans.append((s, e))
                sentence_rows.append(srow)
        dim = int(units.vectors.shape[1]) if units.vectors.ndim == 2 else 0
        vectors = np.ascontiguousarray(fetch(sentence_rows), dtype=np.float32) if sentence_rows else \
            np.zeros((0, dim), np.float32)
        if len(vectors):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return cls(ids, regions, years, roles, texts, vectors, rows, unit_ids, kept_spans, sentence_rows,
                   dict(zip(units.ids, units.texts)))

    @classmethod
    def from_parts(cls, parts: IndexParts) -> SentenceTable | None:  # type: ignore[override]
        """The clusterable sentences of an opened index version (None if it stores no sentence vectors)."""
        if parts.sentences is None:
            return None
        sentences = parts.sentences
        return cls.of_units(UnitTable.from_parts(parts), sentences.offsets, sentences.spans,
                            lambda rows: sentences.vectors[np.asarray(rows, dtype=np.int64)],
                            parts.store.unit_formula_spans(CLUSTER_ROLES))

    @classmethod
    def from_build(cls, parsed: Sequence[ParsedReport], units: Sequence[Paragraph],  # type: ignore[override]
                   vectors: np.ndarray, offsets: np.ndarray | None = None, spans: Any = None,
                   sentence_vectors: Any = None) -> SentenceTable | None:
        """The clusterable sentences of a build in progress (None without sentence vectors)."""
        if offsets is None or sentence_vectors is None:
            return None
        by_id = {p.report.id: p for p in parsed}
        formula = {}
        for unit in units:
            found = by_id[unit.document_id].formula_spans_in(unit)
            if found:
                formula[unit.id] = [(s - unit.start, e - unit.start) for s, e in found]
        return cls.of_units(UnitTable.from_build(parsed, units, vectors), offsets, spans,
                            lambda rows: np.asarray(sentence_vectors[np.asarray(rows, dtype=np.int64)],
                                                    dtype=np.float32), formula)
