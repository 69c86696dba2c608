"""Plain dataclasses passed between simkit's parts and returned by its API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Report:
    """One report file after reading and cleaning.

    ``text`` is the cleaned text; paragraph offsets point into it.
    """

    id: str
    path: str
    sha256: str
    text: str
    title: str | None = None
    region: str | None = None
    province: str | None = None
    year: int | None = None
    issuer: str | None = None
    published: str | None = None
    doc_number: str | None = None

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_text:
            data.pop("text")
        return data


@dataclass(frozen=True)
class Paragraph:
    """A span of a report's cleaned text with its place in the outline.

    ``kind`` is ``"paragraph"`` for text that is embedded and searched, and
    ``"heading"`` / ``"fragment"`` for outline headings and short lines kept
    only as section context.
    """

    id: str
    document_id: str
    section: str
    text: str
    start: int
    end: int
    kind: str = "paragraph"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ParsedReport:
    """A report and its paragraphs, in reading order."""

    report: Report
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def units(self) -> list[Paragraph]:
        """The paragraphs that are embedded and indexed."""
        return [p for p in self.paragraphs if p.kind == "paragraph"]
