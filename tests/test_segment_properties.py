"""Property-based tests of the segmenter on generated outline-like report texts."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simkit.reading.records import ROLES, Paragraph
from simkit.reading.segment import segment, split_long

KINDS = {"paragraph", "measure", "parent", "heading", "fragment"}
_CN = "一二三四五六七八九十"
_WORDS = [
    "法治", "政府", "建设", "推进", "行政执法", "监督", "服务", "改革", "完善", "机制", "开展", "专项整治",
    "全面", "落实", "基层治理", "公共法律", "数字平台", "审批", "事项", "办理", "群众", "企业", "2023年",
    "100%", "3.5亿元", "“一件事”", "《条例（试行）》", "(2021-2025年)", "第(一)项", "是", "一", "二是",
    "之一是", "存在的问题", "也存在不足", "下一步", "工作计划", "第一责任人", "2024年，我市将",
]
_MARKERS = ["{cn}、", "（{cn}）", "({cn})", "{n}.", "{n}、", "（{n}）", "({n})", "{circled}", "{cn}是"]
_PUNCT = "。，,；;：:、！？"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _filler(draw: st.DrawFn, low: int = 1, high: int = 12) -> str:
    return "".join(draw(st.lists(st.sampled_from(_WORDS), min_size=low, max_size=high)))


def _marker(draw: st.DrawFn, n: int | None = None) -> str:
    n = n if n is not None else draw(st.integers(1, 5))
    form = draw(st.sampled_from(_MARKERS))
    return form.format(cn=_CN[n - 1], n=n, circled=chr(ord("①") + n - 1))


@st.composite
def _line(draw: st.DrawFn) -> str:
    """One outline line: a heading, a plain paragraph, an enumeration run, a ；-list, or loose pieces."""
    shape = draw(st.sampled_from(["heading", "sentences", "run", "semicolons", "pieces"]))
    head = _marker(draw) if draw(st.booleans()) else ""
    if shape == "heading":
        return head + _filler(draw, 1, 5)
    if head:
        head += _filler(draw, 1, 5) + draw(st.sampled_from(["。", "", " "]))
    if shape == "sentences":
        return head + "".join(_filler(draw) + draw(st.sampled_from(_PUNCT)) for _ in range(draw(st.integers(1, 5))))
    if shape == "run":
        lead = _filler(draw, 0, 10) + draw(st.sampled_from(["。", "：", ":", "，"])) if draw(st.booleans()) else ""
        form = draw(st.sampled_from(["{cn}是", "（{n}）", "({n})", "{circled}", "{n}、"]))
        items = [
            form.format(cn=_CN[i], n=i + 1, circled=chr(ord("①") + i)) + _filler(draw, 1, 14)
            for i in range(draw(st.integers(1, 6)))
        ]
        sep = draw(st.sampled_from(["。", "；", ";", "，"]))
        return head + lead + sep.join(items) + "。"
    if shape == "semicolons":
        items = [_filler(draw, 1, 16) for _ in range(draw(st.integers(2, 7)))]
        return head + draw(st.sampled_from(["；", ";"])).join(items) + "。"
    return head + "".join(
        (_marker(draw) if draw(st.booleans()) else "") + _filler(draw, 0, 6) + draw(st.sampled_from(_PUNCT))
        for _ in range(draw(st.integers(1, 6)))
    )


@st.composite
def report_texts(draw: st.DrawFn) -> str:
    """Outline-like text: lines joined by newlines, blank lines or spaces (one-line reports)."""
    lines = draw(st.lists(_line(), min_size=1, max_size=8))
    joiner = draw(st.sampled_from(["\n", "\n\n", " ", "\n \n"]))
    year = draw(st.sampled_from(["", "2023年，", "2021年以来，"]))
    return year + joiner.join(lines)


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(text: str, paras: list[Paragraph]) -> None:
    ids = [p.id for p in paras]
    assert len(ids) == len(set(ids))
    for p in paras:
        assert text[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert p.kind in KINDS and p.role in ROLES
        assert p.document_id == "doc" and p.id.startswith("doc:")
    # Everything but the parents tiles the text: no overlap, nothing lost or duplicated.
    flat = [p for p in paras if p.kind != "parent"]
    for a, b in zip(flat, flat[1:]):
        assert a.end <= b.start
    assert "".join(_squash(p.text) for p in flat) == _squash(text)
    # Each parent is followed by its measures, which tile it exactly.
    by_id = {p.id: p for p in paras}
    for i, parent in enumerate(paras):
        if parent.kind != "parent":
            continue
        measures = [p for p in paras if p.parent_id == parent.id]
        assert len(measures) >= 2
        assert paras[i + 1 : i + 1 + len(measures)] == measures
        assert [m.id for m in measures] == [f"{parent.id}/m{n}" for n in range(1, len(measures) + 1)]
        assert "".join(_squash(m.text) for m in measures) == _squash(parent.text)
        assert parent.start == measures[0].start and parent.end == measures[-1].end
        for m in measures:
            assert (m.kind, m.section, m.role) == ("measure", parent.section, parent.role)
            assert len(_squash(m.text)) >= 15
    for p in paras:
        assert (p.parent_id is not None) == (p.kind == "measure")
        assert p.parent_id is None or by_id[p.parent_id].kind == "parent"


@_SETTINGS
@given(report_texts())
def test_generated_reports_are_tiled_and_pointed_at(text: str) -> None:
    paras = segment(text, "doc")
    _check(text, paras)
    assert segment(text, "doc") == paras  # deterministic


@_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text_is_tiled_too(text: str) -> None:
    _check(text, segment(text, "doc"))


@_SETTINGS
@given(report_texts(), report_texts())
def test_appending_text_keeps_earlier_records(text: str, more: str) -> None:
    before = segment(text, "doc")
    after = segment(text + "\n" + more, "doc")
    assert after[: len(before)] == before


@_SETTINGS
@given(report_texts(), st.integers(5, 120))
def test_split_long_pieces_fit_and_tile(text: str, max_tokens: int) -> None:
    for unit in segment(text, "doc"):
        if unit.kind not in ("paragraph", "measure"):
            continue
        pieces = split_long(unit, len, max_tokens)
        if len(unit.text) <= max_tokens:
            assert pieces == [unit]
            continue
        assert all(len(p.text) <= max_tokens for p in pieces)
        assert "".join(_squash(p.text) for p in pieces) == _squash(unit.text)
        for i, piece in enumerate(pieces, 1):
            assert text[piece.start : piece.end] == piece.text
            assert piece.id == f"{unit.id}.{i}"
            assert (piece.kind, piece.parent_id, piece.role, piece.section) == (
                unit.kind,
                unit.parent_id,
                unit.role,
                unit.section,
            )
        for a, b in zip(pieces, pieces[1:]):
            assert a.end <= b.start
