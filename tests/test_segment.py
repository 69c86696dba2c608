"""Outline segmentation and splitting of long paragraphs, on real report text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simkit.ingest import parse_report
from simkit.records import Paragraph
from simkit.segment import segment, split_long

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_line_outline_levels_and_sections() -> None:
    text = "\n".join(
        [
            "2023年,本市坚持依法行政,现将有关情况报告如下:",
            "一、主要举措和成效",
            "(一)依法全面履行政府职能",
            "1.持续推进政府机构职能优化。加大政府部门优化整合力度,成立市国防动员办公室。",
            "2.持续推动“放管服”改革工作。进一步压减政务服务事项办理时间,压缩比达75.75%。",
            "(二)提升依法科学民主决策水平",
            "健全政府立法机制,确立5个市政府立法联系点,让立法更接地气、更显民意。",
            "二、存在的问题",
            "一是法治政府建设发展不均衡。二是基层政务服务能力仍需提高。",
        ]
    )
    paras = segment(text, "doc")
    got = [(p.kind, p.section) for p in paras]
    assert got == [
        ("paragraph", ""),
        ("heading", "一、主要举措和成效"),
        ("heading", "一、主要举措和成效 > (一)依法全面履行政府职能"),
        ("paragraph", "一、主要举措和成效 > (一)依法全面履行政府职能 > 1.持续推进政府机构职能优化"),
        ("paragraph", "一、主要举措和成效 > (一)依法全面履行政府职能 > 2.持续推动“放管服”改革工作"),
        ("heading", "一、主要举措和成效 > (二)提升依法科学民主决策水平"),
        ("paragraph", "一、主要举措和成效 > (二)提升依法科学民主决策水平"),
        ("heading", "二、存在的问题"),
        ("paragraph", "二、存在的问题"),
    ]
    for p in paras:
        assert text[p.start : p.end] == p.text
        assert p.id.startswith("doc:")


def test_inline_markers_in_a_one_line_report() -> None:
    text = (
        "2023年以来,本县深入贯彻落实《法治政府建设实施纲要(2021-2025年)》。现将有关情况报告如下: "
        "一、主要举措和成效 (一)坚持党委领导,筑牢法治建设阵地。一是加强领导。依照第(一)项规定办理。 "
        "(二)坚持改革创新,提高治理能力。一是推进综合执法改革。 "
        "二、存在的不足 2023年以来,我县法治政府建设虽取得了一定的成绩,但仍有差距。"
    )
    paras = segment(text, "t")
    assert [p.kind for p in paras] == ["paragraph", "heading", "paragraph", "paragraph", "heading", "paragraph"]
    assert paras[2].section == "一、主要举措和成效 > (一)坚持党委领导,筑牢法治建设阵地"
    assert "第(一)项" in paras[2].text  # not a split point: no space or sentence end before it
    assert "(2021-2025年)" in paras[0].text
    assert paras[4].text == "二、存在的不足"
    assert paras[5].text.startswith("2023年以来") and paras[5].section == "二、存在的不足"
    for p in paras:
        assert text[p.start : p.end] == p.text


def test_inline_marker_out_of_sequence_is_not_a_split() -> None:
    text = "一、工作成效 (一)加强领导。召开会议3次。 (五)这是引用的条文编号,并非新的小节。"
    paras = segment(text, "x")
    assert len(paras) == 2
    assert paras[1].text.endswith("并非新的小节。")


def test_fragments_and_duplicates() -> None:
    text = "一、工作成效\n现将情况报告如下:\n开展专题培训,提升依法行政能力。\n开展专题培训,提升依法行政能力。"
    paras = segment(text, "d")
    assert [p.kind for p in paras] == ["heading", "fragment", "paragraph", "paragraph"]
    assert paras[3].id == paras[2].id + "-2"
    assert len({p.id for p in paras}) == 4


def test_ids_are_stable_and_depend_on_section_and_text() -> None:
    a = segment("一、甲\n开展专题培训,提升依法行政能力。", "d")
    b = segment("一、甲\n开展专题培训,提升依法行政能力。", "d")
    c = segment("一、乙\n开展专题培训,提升依法行政能力。", "d")
    assert [p.id for p in a] == [p.id for p in b]
    assert a[1].id != c[1].id


def _long_paragraph() -> tuple[str, Paragraph]:
    parsed = parse_report(EXAMPLES / "taishun-2023.txt")
    longest = max(parsed.units, key=lambda p: len(p.text))
    return parsed.report.text, longest


@pytest.mark.parametrize("max_tokens", [60, 150, 300])
def test_split_long_pieces_fit_cover_and_point_into_the_text(max_tokens: int) -> None:
    text, para = _long_paragraph()
    assert len(para.text) > 600
    pieces = split_long(para, len, max_tokens)
    assert len(pieces) >= 2
    assert all(len(p.text) <= max_tokens for p in pieces)
    assert _squash("".join(p.text for p in pieces)) == _squash(para.text)
    for i, piece in enumerate(pieces, 1):
        assert text[piece.start : piece.end] == piece.text
        assert piece.id == f"{para.id}.{i}"
        assert (piece.section, piece.kind, piece.document_id) == (para.section, para.kind, para.document_id)
    assert [p.start for p in pieces] == sorted(p.start for p in pieces)
    # Balanced: no tiny tail next to a full piece.
    sizes = [len(p.text) for p in pieces]
    assert min(sizes) >= max_tokens // 4


def test_split_long_prefers_sentence_ends() -> None:
    _, para = _long_paragraph()
    pieces = split_long(para, len, 200)
    assert all(p.text[-1] in "。！？；;!?”" for p in pieces)


def test_split_long_hard_cuts_text_without_punctuation() -> None:
    body = "法治政府建设" * 50
    para = Paragraph("d:abc", "d", "一、甲", body, 10, 10 + len(body))
    pieces = split_long(para, len, 70)
    assert all(len(p.text) <= 70 for p in pieces)
    assert "".join(p.text for p in pieces) == body
    assert [p.start for p in pieces][0] == 10 and pieces[-1].end == 10 + len(body)


def test_split_long_leaves_short_paragraphs_alone() -> None:
    para = Paragraph("d:abc", "d", "", "开展专题培训。", 0, 7)
    assert split_long(para, len, 100) == [para]
