"""The units a clustering works on: clusterable roles, and a table of units with their vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from simkit.reading.records import Paragraph, ParsedReport
    from simkit.store.parts import IndexParts

CLUSTER_ROLES = ("measure", "leadership", "plan")
CARRIED_OUT = ("measure", "leadership")


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
