"""Reading, cleaning and describing the five real example reports, plus bad and re-encoded inputs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from simkit.errors import InputError, SimkitError
from simkit.reading.parse import (
    document_id_for,
    normalize_query,
    normalize_spacing,
    normalize_width,
    parse_report,
    read_text,
)
from simkit.reading.records import ParsedReport

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"

EXPECTED = {
    "shishi-2024": {
        "title": "石狮市人民政府关于2024年度法治政府建设情况的报告",
        "region": "石狮市",
        "province": "福建省",
        "year": 2024,
        "issuer": "石狮市人民政府",
        "published": "2025-01-26",
        "doc_number": "狮政综〔2025〕6号",
        "city": "泉州市",
        "adcode": "350581",
        "addressee": "中共石狮市委",
    },
    "taishun-2023": {
        "title": "泰顺县人民政府关于2023年法治政府建设年度报告",
        "region": "泰顺县",
        "city": "温州市",
        "adcode": "330329",
        "addressee": None,
        "province": "浙江省",
        "year": 2023,
        "issuer": "泰顺县人民政府",
        "published": None,
        "doc_number": None,
    },
    "xiamen-2021": {
        "title": "厦门市关于2021年法治政府建设情况的报告",
        "region": "厦门市",
        "city": "厦门市",
        "adcode": "350200",
        "addressee": None,
        "province": "福建省",
        "year": 2021,
        "issuer": None,
        "published": "2022-03-10",
        "doc_number": None,
    },
    "siping-2023": {
        "title": None,  # the file has no title line
        "region": "四平市",
        "city": "四平市",
        "adcode": "220300",
        "addressee": None,
        "province": "吉林省",
        "year": 2023,
        "issuer": "中共四平市委 四平市人民政府",
        "published": "2024-01-29",
        "doc_number": None,
    },
    "quangang-2023": {
        "title": "泉州市泉港区人民政府关于2023年法治政府建设情况的报告",
        "region": "泉州市泉港区",
        "province": "福建省",
        "year": 2023,
        "issuer": "泉州市泉港区人民政府",
        "published": None,
        "doc_number": "泉港政函〔2024〕2号",
        "city": "泉州市",
        "adcode": "350505",
        "addressee": "区人大常委会",
    },
}

JUNK = [
    "扫一扫",
    "打印本页",
    "关闭窗口",
    "此件主动公开",
    "网站支持IPV6",
    "当前位置",
    "字号",
    "- 标题",
    "移动版",
    "闽政通APP",
    "特此报告",
    "发布日期",
    "索 引 号",
]

_cache: dict[str, ParsedReport] = {}


def parsed(stem: str) -> ParsedReport:
    if stem not in _cache:
        _cache[stem] = parse_report(EXAMPLES / f"{stem}.txt")
    return _cache[stem]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_metadata(stem: str) -> None:
    report = parsed(stem).report
    for key, value in EXPECTED[stem].items():
        assert getattr(report, key) == value, key
    assert report.id == stem
    assert report.source_format == "text"
    assert report.sha256 == hashlib.sha256((EXAMPLES / f"{stem}.txt").read_bytes()).hexdigest()


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_no_junk_and_exact_offsets(stem: str) -> None:
    result = parsed(stem)
    text = result.report.text
    assert result.paragraphs
    for p in result.paragraphs:
        assert text[p.start : p.end] == p.text
        assert p.document_id == stem and p.id.startswith(f"{stem}:")
        assert p.kind in ("paragraph", "measure", "parent", "heading", "fragment")
        for junk in JUNK:
            assert junk not in p.text, (junk, p.text[:40])
    for junk in JUNK:
        assert junk not in text
    # Closing block and addressee are gone from the text too.
    assert not re.search(r"^\d{4}年\d{1,2}月\d{1,2}日$", text, re.MULTILINE)
    assert not re.search(r"^[^\n，,。]{2,20}[:：]$", text, re.MULTILINE)
    assert [p.start for p in result.paragraphs] == sorted(p.start for p in result.paragraphs)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_ids_unique_and_stable_across_parses(stem: str) -> None:
    first = parse_report(EXAMPLES / f"{stem}.txt")
    second = parse_report(EXAMPLES / f"{stem}.txt")
    ids = [p.id for p in first.paragraphs]
    assert len(ids) == len(set(ids))
    assert ids == [p.id for p in second.paragraphs]
    assert first == second


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_every_report_has_real_paragraphs_and_a_preamble(stem: str) -> None:
    result = parsed(stem)
    assert len(result.units) >= 8
    first = result.paragraphs[0]
    assert first.section == "" and first.kind == "paragraph"
    assert str(EXPECTED[stem]["year"]) in first.text[:10]


def test_addressee_and_signature_removed() -> None:
    assert not parsed("shishi-2024").report.text.startswith("中共石狮市委")
    assert "区人大常委会：" not in parsed("quangang-2023").report.text
    assert "中共四平市委 四平市人民政府" not in parsed("siping-2023").report.text
    assert not parsed("shishi-2024").report.text.rstrip().endswith("石狮市人民政府")


def test_one_line_report_is_split_along_inline_markers() -> None:
    result = parsed("taishun-2023")
    assert "\n" not in result.report.text  # it really is one line
    units = result.units
    assert len(units) >= 8
    assert len({p.section for p in units}) >= 8
    sections = {p.section for p in result.paragraphs}
    assert "二、2023年法治政府建设存在的不足" in sections
    assert any(s.endswith("> （五）坚持强基固本，不断夯实法护平安基础") for s in sections)
    headings = [p.text for p in result.paragraphs if p.kind == "heading"]
    assert headings[0] == "一、2023年推进法治政府建设的主要举措和成效"
    assert "《法治政府建设实施纲要（2021-2025年）》" in result.paragraphs[0].text


def test_pdf_broken_sentences_are_joined() -> None:
    result = parsed("quangang-2023")
    text = result.report.text
    for whole in ["专题学法2次", "善意文明执行机制", "全面推行“部门初审", "统筹推进我区法治政府建设", "较好的成效"]:
        assert any(whole in p.text for p in result.units), whole
    # PDF spacing around numbers is gone, Chinese-word spacing is kept.
    assert "2023 年" not in text and "法 2 次" not in text and "达 100%" not in text
    assert "“法润石化 护企安商”" in text
    for p in result.paragraphs:
        assert not re.match(r"[，。、；：]", p.text), p.text[:20]
        assert p.kind == "heading" or re.search(r"[。！？；:：”）)]$", p.text), p.text[-20:]
    # The numbered items are units of their own, under their heading.
    items = [p for p in result.units if re.match(r"\d\.", p.text)]
    assert len(items) == 16
    assert all(p.section.startswith("一、主要做法和成效 > （") for p in items)


def test_numbered_items_get_their_own_paragraph_with_section() -> None:
    result = parsed("siping-2023")
    items = [p for p in result.units if p.text.startswith(("1.持续", "2.持续", "3.持续"))]
    assert [p.text[:9] for p in items] == ["1.持续推进政府机", "2.持续推动“放管", "3.持续优化法治化"]
    for p in items:
        assert "（一）依法全面履行政府职能" in p.section
        assert p.section.endswith(p.text.split("。")[0])
    heading = next(p for p in result.paragraphs if p.text == "（一）依法全面履行政府职能")
    assert heading.kind == "heading"


def test_leading_heading_contributes_its_short_title() -> None:
    result = parsed("shishi-2024")
    p = next(p for p in result.units if p.text.startswith("（一）提升政务服务效能。"))
    assert p.section == "二、聚焦全面履职，护航经济社会发展大局 > （一）提升政务服务效能"
    assert p.kind in ("paragraph", "measure")  # measures come from simkit.reading.segment


def test_web_page_header_and_footer_removed() -> None:
    text = parsed("xiamen-2021").report.text
    assert text.startswith("2021年，在省委、省政府正确领导下")
    assert text.endswith("合力营造法治政府建设的导向和氛围。")


def test_region_override_wins() -> None:
    result = parse_report(EXAMPLES / "siping-2023.txt", region="双辽市", document_id="custom")
    assert result.report.region == "双辽市"
    assert result.report.province == "吉林省"
    assert (result.report.city, result.report.adcode) == ("四平市", "220382")
    assert result.report.id == "custom"
    assert all(p.id.startswith("custom:") for p in result.paragraphs)


def test_region_override_is_canonicalized_or_kept() -> None:
    report = parse_report(EXAMPLES / "shishi-2024.txt", region="泉港区").report
    assert (report.region, report.province, report.city) == ("泉州市泉港区", "福建省", "泉州市")
    assert report.adcode == "350505"
    report = parse_report(EXAMPLES / "shishi-2024.txt", region="某某新区").report
    assert (report.region, report.province, report.city, report.adcode) == ("某某新区", None, None, None)


def test_unknown_region_is_none(tmp_path: Path) -> None:
    f = tmp_path / "report.txt"
    f.write_text("关于法治政府建设情况的报告\n今年以来,我们坚持依法行政,推进法治政府建设,取得积极成效。\n", "utf-8")
    report = parse_report(f).report
    assert report.region is None and report.province is None
    assert report.city is None and report.adcode is None


PDF_TEXT = """永嘉县人民政府关于2022年度法治政府
建设情况的报告

县人大常委会：
    2022年，我县坚持以习近平法治思想为指导，深入推进法治政府
建设，取得明显成效。现将有关情况报告如下：
    一、主要工作
    （一）深化放管服改革。全面推行“证照分离”改革，压缩审批
时限50%以上，办理各类事项 1200 件。
                                 - 2 -
    （二）加强行政执法监督。开展行政执法案卷评查，评查案卷
120 宗，发现问题 35 个，均已整改到位。
    二、存在问题
    一是基层法治力量不足；二是执法规范化水平有待提高。
    特此报告。

                                    永嘉县人民政府
                                  2023年2月10日
"""


def test_hard_wrapped_pdf_text(tmp_path: Path) -> None:
    f = tmp_path / "yongjia-2022.txt"
    f.write_text(PDF_TEXT, "utf-8")
    result = parse_report(f)
    report = result.report
    assert report.title == "永嘉县人民政府关于2022年度法治政府建设情况的报告"
    assert (report.region, report.province, report.year) == ("永嘉县", "浙江省", 2022)
    assert (report.issuer, report.published) == ("永嘉县人民政府", "2023-02-10")
    assert report.text.split("\n") == [
        "2022年，我县坚持以习近平法治思想为指导，深入推进法治政府建设，取得明显成效。现将有关情况报告如下：",
        "一、主要工作",
        "（一）深化放管服改革。全面推行“证照分离”改革，压缩审批时限50%以上，办理各类事项1200件。",
        "（二）加强行政执法监督。开展行政执法案卷评查，评查案卷120宗，发现问题35个，均已整改到位。",
        "二、存在问题",
        "一是基层法治力量不足；二是执法规范化水平有待提高。",
    ]
    assert [p.kind for p in result.paragraphs] == [
        "paragraph",
        "heading",
        "paragraph",
        "paragraph",
        "heading",
        "paragraph",
    ]


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("stem", "encoding"),
    [
        ("shishi-2024", "gbk"),
        ("quangang-2023", "gbk"),
        ("taishun-2023", "gb18030"),
        ("xiamen-2021", "gb18030"),
        ("siping-2023", "utf-8-sig"),
        ("shishi-2024", "utf-16"),
        ("quangang-2023", "utf-16-le"),
    ],
)
def test_encodings_give_the_same_parse(tmp_path: Path, stem: str, encoding: str) -> None:
    original = parsed(stem)
    raw = read_text(EXAMPLES / f"{stem}.txt")
    target = tmp_path / f"{stem}.txt"
    target.write_bytes(raw.encode(encoding))
    assert read_text(target) == raw
    again = parse_report(target)
    assert again.report.text == original.report.text
    assert again.paragraphs == original.paragraphs
    assert again.report.sha256 != original.report.sha256 or encoding == "utf-8"
    assert again.report.title == original.report.title


def test_crlf_newlines_are_normalized(tmp_path: Path) -> None:
    raw = read_text(EXAMPLES / "siping-2023.txt")
    target = tmp_path / "siping-2023.txt"
    target.write_bytes(raw.replace("\n", "\r\n").encode("utf-8"))
    assert read_text(target) == raw
    assert parse_report(target).paragraphs == parsed("siping-2023").paragraphs


# --------------------------------------------------------------------------- bad inputs


def _one_line_error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        parse_report(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert isinstance(info.value, SimkitError)
    return message.replace(str(path), "<file>")  # test names in the path must not satisfy the checks


def test_binary_file(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_bytes(bytes(range(256)) * 8)
    assert "binary" in _one_line_error(f)


def test_binary_file_with_text_like_start(tmp_path: Path) -> None:
    f = tmp_path / "report.pdf"
    f.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 5 >>\nstream\n\x00\x01\x02\x03\x04endstream")
    assert "truncated PDF" in _one_line_error(f)  # sniffed as PDF: see tests/test_readers.py for more


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.txt"
    f.write_bytes(b"")
    assert "empty" in _one_line_error(f)


def test_whitespace_only_file(tmp_path: Path) -> None:
    f = tmp_path / "blank.txt"
    f.write_text(" \n\t\n\u3000\n", "utf-8")
    assert "whitespace" in _one_line_error(f)


def test_missing_path(tmp_path: Path) -> None:
    assert "no such file" in _one_line_error(tmp_path / "missing.txt")


def test_directory(tmp_path: Path) -> None:
    assert "directory" in _one_line_error(tmp_path)


def test_page_furniture_only(tmp_path: Path) -> None:
    f = tmp_path / "nav.txt"
    f.write_text("• |\n  • EN |\n  • 移动版\n网站支持IPV6\n扫一扫在手机上查看当前页面\n", "utf-8")
    assert "no report text" in _one_line_error(f)


def test_read_text_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.txt"):
        read_text(tmp_path / "missing.txt")


# --------------------------------------------------------------------------- helpers


def test_document_id_for() -> None:
    assert document_id_for("reports/shishi-2024.txt") == "shishi-2024"
    assert document_id_for(Path("/a/B Report_2023.TXT")) == "b-report-2023"
    cn = document_id_for("报告/石狮市2024年报告.txt")
    assert re.fullmatch(r"doc-[0-9a-f]{10}", cn)
    assert cn == document_id_for("elsewhere/石狮市2024年报告.txt")
    assert cn != document_id_for("石狮市2023年报告.txt")


def test_normalize_spacing() -> None:
    assert normalize_spacing("举办 2023 年政法干警轮训班") == "举办2023年政法干警轮训班"
    assert normalize_spacing("专题学法 2 次。") == "专题学法2次。"
    assert normalize_spacing("述法率达 100%。") == "述法率达100%。"
    assert normalize_spacing("，2023 年以来") == "，2023年以来"
    assert normalize_spacing("“法润石化 护企安商”") == "“法润石化 护企安商”"
    assert normalize_spacing("存在的不足 2023年以来") == "存在的不足 2023年以来"
    assert normalize_spacing("a  b\n\nc") == "a b\n\nc"


def test_evidence_style_substrings_survive_cleaning() -> None:
    """Raw-text phrases (PDF spacing included) are found in a unit once whitespace is ignored."""
    raw = read_text(EXAMPLES / "quangang-2023.txt")
    phrases = ["区政府党组专题学\n\n法 2 次", "深化“两书一函”善\n\n意文明执行机制", "述法率达 100%"]
    units = parsed("quangang-2023").units
    for phrase in phrases:
        assert phrase in raw
        assert any(squash(phrase) in squash(p.text) for p in units), phrase


def test_normalize_width() -> None:
    assert normalize_width("ＡＢ１２，ｘ") == "AB12，x"
    assert normalize_width("增长１００％") == "增长100%"
    assert normalize_width("2024年,市政府坚持") == "2024年，市政府坚持"
    assert normalize_width("(一)坚持思想引领") == "（一）坚持思想引领"
    assert normalize_width("《纲要(2021-2025年)》") == "《纲要（2021-2025年）》"
    assert normalize_width("(1)加强领导;(2)压实责任") == "（1）加强领导；（2）压实责任"
    assert normalize_width("报告如下:") == "报告如下："
    assert normalize_width("是否落实?是!") == "是否落实？是！"
    assert normalize_width("“示范市”,推进") == "“示范市”，推进"
    # ASCII punctuation inside numbers and Latin text stays.
    for kept in ["3.5", "75.75%", "12:30", "e.g.", "1,000", "2022-03-10 10:58", "see (RFC 2119), ok", "http://a.cn/?a=1"]:
        assert normalize_width(kept) == kept
    assert normalize_width("比例达75.75%,同比") == "比例达75.75%，同比"
    assert normalize_width("３．５倍") == "3.5倍"
    # One character for one: lengths and newlines are kept; stray parentheses next to Chinese too.
    text = "一、工作 (一)加强领导,\n完善机制(二"
    assert len(normalize_width(text)) == len(text) and normalize_width(text).count("\n") == 1
    assert normalize_width("（2021-2025年)") == "（2021-2025年）"


def test_normalize_query_matches_report_text() -> None:
    assert normalize_query("  (一)提升政务服务效能,2023 年 ") == "（一）提升政务服务效能，2023年"
    text = parsed("shishi-2024").report.text
    for raw in ["(一)坚持思想引领", "市政府主要领导上法治课1次,市政府常务会", "《法治政府建设实施纲要(2021—2025年)》"]:
        assert raw not in text
        assert normalize_query(raw) in text


def test_report_text_is_width_normalized() -> None:
    for stem in EXPECTED:
        text = parsed(stem).report.text
        assert not re.search(r"[\u4e00-\u9fff][,;:?!()]|[,;:?!()][\u4e00-\u9fff]", text), stem
        assert not re.search(r"[０-９Ａ-Ｚａ-ｚ]", text), stem
