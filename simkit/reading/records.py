"""Plain dataclasses passed between simkit's parts and returned by its API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UNIT_KINDS = ("paragraph", "measure")
ROLES = ("measure", "problem", "plan", "leadership", "overview")


@dataclass(frozen=True)
class Report:
    """One report file after reading and cleaning.

    ``text`` is the cleaned text; paragraph offsets point into it. ``issuer_kind`` is ``government``,
    ``department`` or ``party-government`` (:mod:`simkit.reading.issuers`), ``department`` a department's own
    name (``交通运输局``); ``region_candidates`` the divisions an ambiguous name could be when ``region`` is
    None, ``region_source`` where the region was found (``title``, ``issuer``, ``metadata``, ``--region``…);
    ``report_kind`` one of :data:`REPORT_KINDS`; ``source`` and ``index_number`` a web page's 来源 and 索引号;
    ``url`` what the metadata says; ``script`` ``traditional`` when the file was in traditional script, whose
    original text, offset for offset, is ``original_text`` (``text`` is simplified).
    """

    id: str
    path: str
    sha256: str
    text: str
    title: str | None = None
    region: str | None = None
    province: str | None = None
    city: str | None = None
    adcode: str | None = None
    year: int | None = None
    issuer: str | None = None
    addressee: str | None = None
    published: str | None = None
    doc_number: str | None = None
    source_format: str = "text"
    issuer_kind: str | None = None
    department: str | None = None
    report_kind: str = "report"
    source: str | None = None
    index_number: str | None = None
    url: str | None = None
    region_candidates: tuple[str, ...] = ()
    region_source: str | None = None
    script: str | None = None
    original_text: str | None = None

    @property
    def reporter(self) -> str:
        """The name results group this report's units under: see :func:`reporter_label`."""
        return reporter_label(self.id, self.region, self.issuer_kind, self.department, self.issuer, self.title)

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["region_candidates"] = list(self.region_candidates)
        data["reporter"] = self.reporter
        if not with_text:
            data.pop("text")
            data.pop("original_text")
        return data


#: ``Report.report_kind``: an annual report (the default), a 政策解读 of one, a plan (工作要点, 实施方案,
#: 工作安排/计划) or another kind of document (a notice, rules).
REPORT_KINDS = ("report", "interpretation", "plan", "other")


def reporter_label(document_id: str, region: str | None, issuer_kind: str | None, department: str | None,
                   issuer: str | None, title: str | None) -> str:
    """Who reported, as results show and group it: the region (``石狮市``); a department's region and name
    (``深圳市 · 交通运输局``); for a report whose region is unknown, its issuer or title and id
    (``市公安局 [doc-1a2b3c]``), so that it stands alone and is never grouped with another report."""
    if region:
        return f"{region} · {department}" if issuer_kind == "department" and department else region
    return f"{issuer or title or '?'} [{document_id}]" if (issuer or title) else f"[{document_id}]"


@dataclass(frozen=True)
class Paragraph:
    """A span of a report's cleaned text with its place in the outline.

    ``kind`` says what the span is:

    - ``"paragraph"``: an outline paragraph that is embedded and searched as a whole;
    - ``"measure"``: one measure cut out of a longer paragraph (``parent_id`` names
      it), embedded and searched;
    - ``"parent"``: a paragraph that was cut into measures, kept for context only;
    - ``"heading"`` / ``"fragment"``: outline headings and short lines kept only as
      section context.

    ``role`` comes from the outline: ``"measure"`` (work carried out), ``"problem"``
    (存在问题/不足), ``"plan"`` (下一步/工作安排), ``"leadership"`` (党政主要负责人履行
    第一责任人职责) or ``"overview"`` (the preamble). ``boilerplate`` marks generic
    formula passages found across many reports.
    """

    id: str
    document_id: str
    section: str
    text: str
    start: int
    end: int
    kind: str = "paragraph"
    role: str = "measure"
    parent_id: str | None = None
    boilerplate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ParsedReport:
    """A report and its paragraphs, in reading order."""

    report: Report
    paragraphs: list[Paragraph] = field(default_factory=list)
    boilerplate_spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def units(self) -> list[Paragraph]:
        """The spans that are embedded and indexed: whole paragraphs and measures."""
        return [p for p in self.paragraphs if p.kind in UNIT_KINDS]

    def formula_spans_in(self, paragraph: Paragraph) -> list[tuple[int, int]]:
        """The formula (boilerplate) spans inside a paragraph, clipped to it: offsets into the
        report's cleaned text, like the paragraph's own."""
        return [(max(s, paragraph.start), min(e, paragraph.end)) for s, e in self.boilerplate_spans
                if s < paragraph.end and e > paragraph.start]
