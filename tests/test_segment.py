"""Outline segmentation and splitting of long paragraphs, on real report text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from simkit.reading.parse import parse_report
from simkit.reading.records import ROLES, Paragraph, ParsedReport
from simkit.reading.segment import segment, split_long, split_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _nfkc(text: str) -> str:
    """Whitespace-free NFKC text: compares across punctuation widths."""
    return _squash(unicodedata.normalize("NFKC", text))


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
    """The longest outline paragraph of 泰顺 (now a parent of measures), as a paragraph unit."""
    parsed = parse_report(EXAMPLES / "taishun-2023.txt")
    longest = max((p for p in parsed.paragraphs if p.kind in ("paragraph", "parent")), key=lambda p: len(p.text))
    return parsed.report.text, replace(longest, kind="paragraph")


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


# --------------------------------------------------------------------------- measures (synthetic)

_ITEMS = [
    "召开专题会议研究部署法治政府建设重点任务，推动各项工作落实落地，全年共召开专题会议五次",
    "建立健全考核评价机制，把法治建设成效纳入年度绩效考核指标体系，考核结果在全市范围内公开",
    "组织开展行政执法案卷评查活动，共评查案卷一百二十宗，发现的问题均已整改到位并全市通报",
]


def _children(paras: list[Paragraph], parent: Paragraph) -> list[Paragraph]:
    return [p for p in paras if p.parent_id == parent.id]


def test_shi_run_becomes_measures_with_short_lead_attached() -> None:
    text = "一、主要工作\n（一）加强领导。" + "".join(f"{n}是{item}。" for n, item in zip("一二三", _ITEMS))
    paras = segment(text, "d")
    parent = next(p for p in paras if p.kind == "parent")
    measures = _children(paras, parent)
    assert [m.kind for m in measures] == ["measure"] * 3
    assert measures[0].text.startswith("（一）加强领导。一是")  # short lead goes with the first item
    assert measures[1].text.startswith("二是") and measures[2].text.startswith("三是")
    assert [m.id for m in measures] == [f"{parent.id}/m{n}" for n in (1, 2, 3)]
    for m in measures:
        assert text[m.start : m.end] == m.text
        assert m.section == parent.section == "一、主要工作 > （一）加强领导"
        assert m.role == "measure"
    assert not any(p.kind == "paragraph" and p.start == parent.start for p in paras)


def test_long_lead_is_a_measure_of_its_own() -> None:
    lead = "以基层执法队伍作风建设专项监督为契机，创新“234”工作法，构建基层精准执法新格局，该工作方法获省司法厅推广。"
    text = "(一)深化行政执法体制改革。" + lead + "".join(f"{n}是{item}。" for n, item in zip("一二", _ITEMS))
    measures = [p for p in segment(text, "d") if p.kind == "measure"]
    assert len(measures) == 3
    assert measures[0].text == "(一)深化行政执法体制改革。" + lead
    assert measures[1].text.startswith("一是")


def test_semicolon_items_become_measures_in_both_widths() -> None:
    body = "；".join(_ITEMS) + "。"
    for sep in ("；", ";"):
        text = "1.持续推动“放管服”改革工作。" + body.replace("；", sep)
        paras = segment(text, "d")
        assert [p.kind for p in paras] == ["parent", "measure", "measure", "measure"]
        assert paras[2].text == _ITEMS[1] + sep


def test_short_semicolon_lists_and_short_paragraphs_are_not_split() -> None:
    short_list = "围绕重点领域，开展食品安全、药品安全;安全生产、城市管理;交通运输等专项执法检查，全年检查企业二百家。"
    assert [p.kind for p in segment(short_list * 2, "d")] == ["paragraph"]
    assert [p.kind for p in segment("一是基层法治力量不足；二是执法规范化水平有待提高。", "d")] == ["paragraph"]


def test_tiny_items_are_merged_into_a_neighbour() -> None:
    text = f"一是加强领导。二是{_ITEMS[0]}。三是{_ITEMS[1]}。四是强化保障。"
    measures = [p for p in segment(text, "d") if p.kind == "measure"]
    assert len(measures) == 2
    assert measures[0].text.startswith("一是加强领导。二是")
    assert measures[1].text.endswith("四是强化保障。")


def test_inline_parenthesized_numbers_split_after_a_colon() -> None:
    text = "主要做法如下：（1）" + _ITEMS[0] + "；（2）" + _ITEMS[1] + "；（3）" + _ITEMS[2] + "。"
    measures = [p for p in segment(text, "d") if p.kind == "measure"]
    assert [m.text[:3] for m in measures] == ["主要做", "（2）", "（3）"]


def test_measure_ids_do_not_depend_on_the_rest_of_the_report() -> None:
    para = "（一）加强领导。" + "".join(f"{n}是{item}。" for n, item in zip("一二三", _ITEMS))
    a = segment("一、主要工作\n" + para, "d")
    preamble, tail = "2023年，本县坚持依法行政，现报告如下。", "二、存在问题\n基层法治力量仍然不足。"
    b = segment(f"{preamble}\n一、主要工作\n{para}\n{tail}", "d")
    ids_a = [p.id for p in a if p.kind in ("parent", "measure")]
    ids_b = [p.id for p in b if p.kind in ("parent", "measure")]
    assert ids_a == ids_b and len(ids_a) == 4


def test_split_long_on_a_measure_keeps_kind_parent_and_role() -> None:
    text = "二、下一步工作计划\n" + "（一）加强领导。" + "".join(f"{n}是{item}。" for n, item in zip("一二三", _ITEMS))
    measure = next(p for p in segment(text, "d") if p.kind == "measure")
    pieces = split_long(measure, len, 30)
    assert len(pieces) >= 2
    for i, piece in enumerate(pieces, 1):
        assert (piece.kind, piece.parent_id, piece.role) == ("measure", measure.parent_id, "plan")
        assert piece.id == f"{measure.id}.{i}"
        assert text[piece.start : piece.end] == piece.text


# --------------------------------------------------------------------------- roles (synthetic)


def test_roles_from_headings() -> None:
    text = "\n".join(
        [
            "2023年，本市坚持依法行政，现将有关情况报告如下：",
            "一、主要举措和成效",
            "（一）切实履行推进法治建设第一责任人职责。市长带头述法，专题研究法治建设工作三次。",
            "（二）深化放管服改革。全面推行证照分离改革，压缩审批时限百分之五十以上。",
            "（三）着力解决群众反映强烈的突出问题。开展专项整治行动，办结群众投诉一千件。",
            "二、存在的问题和不足",
            "基层法治力量仍然薄弱，执法规范化水平有待提高。",
            "三、党政主要负责人履行推进法治建设第一责任人职责情况",
            "主要负责人认真履行职责，带头尊法学法守法用法，全年专题学法四次。",
            "四、2024年工作思路",
            "（一）压实第一责任人职责。健全述法评议机制，推动述法全覆盖。",
            "五、2023年法治政府建设工作情况",
            "全年办理行政复议案件一百件，纠错率百分之十。",
        ]
    )
    roles = {p.text[:8]: p.role for p in segment(text, "d")}
    assert roles["2023年，本市"] == "overview"
    assert roles["一、主要举措和成"] == "measure"
    assert roles["（一）切实履行推"] == "leadership"
    assert roles["（二）深化放管服"] == "measure"
    assert roles["（三）着力解决群"] == "measure"  # "solving problems" is work done
    assert roles["基层法治力量仍然"] == "problem"
    assert roles["主要负责人认真履"] == "leadership"
    assert roles["（一）压实第一责"] == "plan"  # plans win over leadership
    assert roles["全年办理行政复议"] == "measure"  # the report year itself is not a plan


def test_paragraph_openers_start_problem_and_plan_sections() -> None:
    text = "\n".join(
        [
            "2021年，本市坚持依法行政，现将有关情况报告如下。",
            "十、健全领导干部学法用法机制",
            "举办全市领导干部法治专题培训班，组织七十名领导干部参加任职前法律知识考试。",
            "同时也要清醒地看到，我市法治政府建设还存在一些不足：一是基层力量薄弱。二是执法能力不强。",
            "以上问题将在今后的工作中逐步加以解决，确保取得实效。",
            "2022年，我市将以习近平法治思想为指导，重点加强法治政府建设各项工作，全面提升依法行政水平。",
            "十一、其他工作",
            "开展普法宣传活动二十场，覆盖群众一万人次。",
        ]
    )
    paras = segment(text, "d")
    got = [(p.role, p.section) for p in paras if p.kind == "paragraph"]
    assert got[1] == ("measure", "十、健全领导干部学法用法机制")
    assert got[2][0] == "problem" and got[2][1] == "同时也要清醒地看到，我市法治政府建设还存在一些不足"
    assert got[3] == got[2]  # the following paragraph stays in the implicit section
    assert got[4][0] == "plan" and got[4][1].startswith("2022年，我市将以习近平法治思想为指导")
    assert got[5] == ("measure", "十一、其他工作")


def test_plan_opener_inside_a_problems_and_plans_heading_is_nested() -> None:
    text = "\n".join(
        [
            "二、存在问题及下一步打算",
            "基层法治力量仍然薄弱，执法规范化水平有待提高。",
            "下一步，我们将进一步加强基层法治队伍建设。",
        ]
    )
    paras = segment(text, "d")
    assert [p.role for p in paras] == ["problem", "problem", "plan"]
    assert paras[2].section == "二、存在问题及下一步打算 > 下一步，我们将进一步加强基层法治队伍建设"


def test_openers_never_move_back_from_plans_to_problems() -> None:
    text = "三、2024年工作思路\n虽然取得一定成效，但仍存在一些不足，我们将持续加以改进，推动各项工作落实落地。"
    assert [p.role for p in segment(text, "d")] == ["plan", "plan"]


def test_full_width_and_half_width_punctuation_segment_alike() -> None:
    half = "\n".join(
        [
            "2023年,本市坚持依法行政,现将有关情况报告如下:",
            "一、主要举措和成效",
            "(一)加强领导。" + "".join(f"{n}是{item}。" for n, item in zip("一二三", _ITEMS)).replace("，", ","),
            "(二)深化改革。" + ";".join(_ITEMS).replace("，", ",") + "。",
            "二、存在的问题",
            "一是基层法治力量不足;二是执法规范化水平有待提高。",
        ]
    )
    full = half.translate(str.maketrans({"(": "（", ")": "）", ",": "，", ";": "；", ":": "："}))
    shape = [[(p.kind, p.role, p.start, p.end) for p in segment(t, "d")] for t in (half, full)]
    assert shape[0] == shape[1]
    assert [k for k, *_ in shape[0]].count("measure") == 6


# --------------------------------------------------------------------------- the example reports


def _parsed(stem: str) -> ParsedReport:
    return parse_report(EXAMPLES / f"{stem}.txt")


@pytest.mark.parametrize("stem", ["quangang-2023", "shishi-2024", "siping-2023", "taishun-2023", "xiamen-2021"])
def test_measures_tile_their_parents_in_every_report(stem: str) -> None:
    parsed = _parsed(stem)
    text = parsed.report.text
    parents = [p for p in parsed.paragraphs if p.kind == "parent"]
    assert parents
    for parent in parents:
        measures = _children(parsed.paragraphs, parent)
        assert len(measures) >= 2
        assert _squash("".join(m.text for m in measures)) == _squash(parent.text)
        for m in measures:
            assert text[m.start : m.end] == m.text
            assert (m.section, m.role) == (parent.section, parent.role)
            assert len(_squash(m.text)) >= 15
    assert all(p.parent_id is None for p in parsed.paragraphs if p.kind != "measure")
    assert all(p.role in ROLES for p in parsed.paragraphs)


def test_siping_semicolon_items_are_measures() -> None:
    parsed = _parsed("siping-2023")
    needle = "推行20个高频事项“一件事一次办”主题服务"
    unit = next(p for p in parsed.units if needle in p.text)
    parent = next(p for p in parsed.paragraphs if p.id == unit.parent_id)
    assert unit.kind == "measure" and parent.kind == "parent"
    assert len(unit.text) * 3 < len(parent.text)
    assert needle not in "".join(p.text for p in parsed.units if p is not unit)


@pytest.mark.parametrize(
    ("stem", "first"), [("shishi-2024", "(一)提升政务服务效能"), ("taishun-2023", "(二)坚持改革创新")]
)
def test_shi_runs_become_measures(stem: str, first: str) -> None:
    parsed = _parsed(stem)
    parent = next(p for p in parsed.paragraphs if p.kind == "parent" and _nfkc(p.text).startswith(first))
    measures = _children(parsed.paragraphs, parent)
    assert len(measures) >= 3
    assert _nfkc(measures[0].text).startswith(first)  # the short lead stays with the first measure
    assert [m.text[:2] for m in measures[1:3]] == ["二是", "三是"]
    assert first in _nfkc(measures[1].section)


def test_roles_on_the_example_reports() -> None:
    def roles(stem: str, section_start: str) -> set[str]:
        parsed = _parsed(stem)
        return {p.role for p in parsed.units if p.section.startswith(section_start)}

    assert roles("taishun-2023", "四、2024年法治政府建设主要工作安排") == {"plan"}
    assert roles("taishun-2023", "二、2023年法治政府建设存在的不足") == {"problem"}
    assert roles("taishun-2023", "三、县政府主要负责人履行法治建设第一责任人") == {"leadership"}
    assert roles("shishi-2024", "七、下一步工作计划") == {"plan"}
    assert roles("shishi-2024", "六、存在问题与不足") == {"problem"}
    assert roles("siping-2023", "三、党政主要负责人履行推进法治建设第一责任人职责情况") == {"leadership"}
    assert roles("siping-2023", "四、2024年主要工作安排") == {"plan"}
    assert roles("quangang-2023", "三、2024年工作思路") == {"plan"}
    for stem in ("quangang-2023", "shishi-2024", "siping-2023", "taishun-2023", "xiamen-2021"):
        parsed = _parsed(stem)
        assert parsed.units[0].role == "overview"
        counts = [p.role for p in parsed.units]
        assert counts.count("measure") > len(counts) / 2, stem


def test_xiamen_unnumbered_problems_and_plans() -> None:
    parsed = _parsed("xiamen-2021")
    problem = next(p for p in parsed.units if "存在一些短板和弱项" in p.text)
    plan = next(p for p in parsed.units if "进一步优化营商环境" in p.text)
    assert problem.role == "problem" and plan.role == "plan"
    assert not problem.section.startswith("十、") and not plan.section.startswith("十、")
    last_work = next(p for p in parsed.units if "民法典进家庭" in p.text)
    assert last_work.role == "measure" and last_work.section.startswith("十、")


def test_split_text_offsets_fit_and_cover_the_text() -> None:
    text = "强化党内监督和人大监督。" * 40 + "  "
    spans = split_text(text, len, 100)
    assert len(spans) > 1 and all(b - a <= 100 for a, b in spans)
    assert "".join(text[a:b] for a, b in spans) == text.strip()
    assert split_text("短文本。", len, 100) == [(0, 4)]
