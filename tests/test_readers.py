"""Every supported format on real reports: the same report as GBK text, HTML page, PDF and DOCX, plus bad files.

The variants are generated from the example reports: an HTML page in GB2312/GB18030 with navigation,
scripts, styles, a footer and share widgets around the article; a PDF with a real text layer (reportlab's
built-in CID font STSong-Light, page numbers in the footer); a Word file (python-docx).
"""

from __future__ import annotations

import difflib
import html
import io
import re
import sys
import time
import zipfile
from pathlib import Path

import pytest

from simkit.errors import InputError
from simkit.reading.parse import parse_report, read_text
from simkit.reading.readers import (
    MAX_RUN_CHARS,
    MAX_TEXT_CHARS,
    MAX_UNPACKED_BYTES,
    SUPPORTED_SUFFIXES,
    read_document,
    sniff_format,
)
from simkit.reading.records import ParsedReport

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"
STEMS = ["shishi-2024", "quangang-2023"]
TITLES = {
    "shishi-2024": "石狮市人民政府关于2024年度法治政府建设情况的报告",
    "quangang-2023": "泉州市泉港区人民政府关于2023年法治政府建设情况的报告",
}


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def raw_lines(stem: str) -> list[str]:
    return [line.strip() for line in read_text(EXAMPLES / f"{stem}.txt").split("\n") if line.strip()]


# --------------------------------------------------------------------------- generators


def make_html(stem: str, charset_tag: str, encoding: str) -> bytes:
    """A government-site page: chrome, scripts and widgets around an article div holding the report."""
    title = TITLES[stem]
    body = "\n".join(f'<p style="text-indent:2em">{html.escape(line)}</p>' for line in raw_lines(stem))
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head>
{charset_tag}
<title>{title}_政务公开_人民政府门户网站</title>
<style>body {{ font-family: "宋体"; }} .nav li {{ float: left; }} .share a:after {{ content: "分享"; }}</style>
<script type="text/javascript">var _hmt = _hmt || []; document.write("<div>网站统计代码加载中</div>");</script>
</head><body>
<div class="top"><a href="/">首页</a> | <a href="/en">EN</a> | <a>无障碍</a> | <a>长者模式</a> | <a>登录</a></div>
<div class="nav"><ul><li><a href="/">网站首页</a></li><li><a href="/zwgk">政务公开</a></li>
<li><a href="/bsfw">办事服务</a></li><li><a href="/hdjl">互动交流</a></li>
<li><a href="/zjdq">走进本地</a></li></ul></div>
<div class="location">当前位置：<a href="/">首页</a> &gt; <a>政务公开</a> &gt; <a>法治政府建设</a></div>
<div class="main"><div class="article">
<h1 class="title">{title}</h1>
<div class="info"><span>发布时间：2025-01-26 10:30</span> <span>浏览次数：1024</span>
<span>字号：<a>大</a> <a>中</a> <a>小</a></span></div>
<div class="TRS_Editor" id="zoom">
{body}
</div>
<div class="share bdsharebuttonbox">分享到：<a class="bds_weixin">微信</a> <a class="bds_tsina">微博</a>
<a class="bds_qzone">QQ空间</a></div>
<div class="tools"><a href="javascript:window.print()">【打印本页】</a>
<a href="javascript:window.close()">【关闭窗口】</a></div>
<div class="related"><h3>相关链接</h3><ul><li><a href="/a">关于印发2024年政务公开工作要点的通知</a></li>
<li><a href="/b">2023年度政府信息公开工作年度报告</a></li></ul></div>
</div></div>
<div class="footer"><p>主办单位：人民政府办公室　承办单位：融媒体中心</p>
<p>网站标识码：3505810001　闽ICP备05012345号　闽公网安备35058102000123号</p><p>联系电话：0595-88888888</p></div>
<script>(function(){{var s=document.createElement("script");s.src="//hm.example.cn/hm.js";}})();</script>
</body></html>"""
    return page.encode(encoding)


def make_pdf(stem: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("report", fontName="STSong-Light", fontSize=14, leading=22, wordWrap="CJK")

    def page_number(canvas, doc) -> None:  # noqa: ANN001 - reportlab callback
        canvas.setFont("STSong-Light", 10)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {doc.page} -")

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=TITLES[stem])
    story = [Paragraph(html.escape(line), style) for line in raw_lines(stem)]
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buf.getvalue()


def make_docx(stem: str) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = TITLES[stem]
    for line in raw_lines(stem):
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def write_variant(tmp_path: Path, stem: str, fmt: str) -> Path:
    if fmt == "gbk-text":
        data, suffix = read_text(EXAMPLES / f"{stem}.txt").encode("gbk"), ".txt"
    elif fmt == "html-http-equiv":
        tag = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        data, suffix = make_html(stem, tag, "gb18030"), ".html"
    elif fmt == "html-meta-charset":
        data, suffix = make_html(stem, '<meta charset="GB2312">', "gb18030"), ".htm"
    elif fmt == "pdf":
        data, suffix = make_pdf(stem), ".pdf"
    else:
        data, suffix = make_docx(stem), ".docx"
    path = tmp_path / f"{stem}{suffix}"
    path.write_bytes(data)
    return path


def matching_share(original: ParsedReport, variant: ParsedReport) -> float:
    """Share of the original's units that have a near-identical unit (whitespace ignored) in the variant."""
    others = [squash(u.text) for u in variant.units]
    exact = set(others)
    found = 0
    for unit in original.units:
        text = squash(unit.text)
        if text in exact or any(
            difflib.SequenceMatcher(None, text, o, autojunk=False).ratio() >= 0.95
            for o in others
            if abs(len(o) - len(text)) <= 0.1 * len(text)
        ):
            found += 1
    return found / len(original.units)


FORMATS = {
    "gbk-text": "text",
    "html-http-equiv": "html",
    "html-meta-charset": "html",
    "pdf": "pdf",
    "docx": "docx",
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("stem", STEMS)
def test_variant_parses_like_the_text(tmp_path: Path, stem: str, fmt: str) -> None:
    original = parse_report(EXAMPLES / f"{stem}.txt")
    path = write_variant(tmp_path, stem, fmt)
    variant = parse_report(path)
    a, b = original.report, variant.report
    assert b.source_format == FORMATS[fmt]
    assert b.id == stem
    for key in ("title", "region", "province", "city", "adcode", "year", "issuer", "addressee", "doc_number"):
        assert getattr(b, key) == getattr(a, key), key
    assert b.title == TITLES[stem]
    share = matching_share(original, variant)
    assert share >= 0.9, share
    assert abs(len(variant.units) - len(original.units)) <= max(2, len(original.units) // 10)
    for p in variant.paragraphs:
        assert b.text[p.start : p.end] == p.text
    # Page chrome stays out of the report text.
    for junk in ["网站首页", "当前位置", "分享到", "微博", "打印本页", "主办单位", "ICP备", "document.write",
                 "font-family", "相关链接", "- 2 -", "字号"]:  # fmt: skip
        assert junk not in b.text, junk


def test_pdf_text_layer_is_real_chinese(tmp_path: Path) -> None:
    path = tmp_path / "shishi-2024.pdf"
    path.write_bytes(make_pdf("shishi-2024"))
    raw = read_document(path)
    assert raw.source_format == "pdf" and raw.declared_title == TITLES["shishi-2024"]
    assert "市政府坚持以习近平新时代中国特色社会主义思想为指导" in squash(raw.text)
    assert len(re.findall(r"[\u4e00-\u9fff]", raw.text)) > 3000
    assert re.search(r"^- 2 -$", raw.text, re.MULTILINE)  # the page number is there before cleaning


def test_html_title_comes_from_the_page_when_the_text_has_none(tmp_path: Path) -> None:
    lines = [x for x in raw_lines("quangang-2023") if "关于2023年" not in x]
    page = "<html><head><meta charset='utf-8'><title>泉港区人民政府关于2023年法治政府建设情况的报告_政务公开</title>"
    paragraphs = "".join(f"<p>{html.escape(x)}</p>" for x in lines)
    page += f"</head><body><div class='article'>{paragraphs}</div></body></html>"
    path = tmp_path / "page.html"
    path.write_text(page, "utf-8")
    report = parse_report(path).report
    assert report.title == "泉港区人民政府关于2023年法治政府建设情况的报告"
    assert (report.region, report.year, report.source_format) == ("泉州市泉港区", 2023, "html")


def test_html_with_br_lines_and_a_disclosure_table(tmp_path: Path) -> None:
    """Another common page shape: a 信息公开 metadata table, then the report as <br>-separated lines in GBK."""
    lines = [x for x in raw_lines("quangang-2023") if not x.startswith(("泉州市泉港区人民政府", "泉港政函"))]
    body = "<br/>\n".join("&nbsp;&nbsp;&nbsp;&nbsp;" + html.escape(x) for x in lines)
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>泉港区人民政府</title></head><body><div class="nav"><a href="/">首页</a> <a href="/zwgk">政务公开</a></div>
<table class="xxgk"><tr><td>索 引 号：</td><td>QZ10000-0200-2024-00001</td>
<td>发布机构：</td><td>泉港区人民政府</td></tr>
<tr><td>文\u3000\u3000号：</td><td>泉港政函〔2024〕2号</td><td>发布日期：</td><td>2024-01-30</td></tr>
<tr><td>标\u3000\u3000题：</td><td colspan="3">泉州市泉港区人民政府关于2023年法治政府建设情况的报告</td></tr></table>
<div id="zoom">{body}</div>
<div class="footer">版权所有：泉州市泉港区人民政府 网站地图 联系我们</div></body></html>"""
    path = tmp_path / "quangang-2023.html"
    path.write_bytes(page.encode("gbk"))
    variant = parse_report(path)
    report = variant.report
    assert report.source_format == "html"
    assert report.title == TITLES["quangang-2023"]
    assert (report.region, report.adcode, report.year) == ("泉州市泉港区", "350505", 2023)
    assert (report.doc_number, report.published) == ("泉港政函〔2024〕2号", "2024-01-30")
    assert report.addressee == "区人大常委会"
    assert matching_share(parse_report(EXAMPLES / "quangang-2023.txt"), variant) >= 0.9
    assert "版权所有" not in report.text and "QZ10000" not in report.text


def test_docx_tables_are_read_in_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("2023年，本县坚持依法行政，现将有关情况报告如下：")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "完成情况"
    table.cell(1, 0).text, table.cell(1, 1).text = "行政复议案件", "120件"
    document.add_paragraph("一、主要工作")
    path = tmp_path / "t.docx"
    document.save(str(path))
    text = read_document(path).text
    assert text.split("\n") == [
        "2023年，本县坚持依法行政，现将有关情况报告如下：",
        "指标\t完成情况",
        "行政复议案件\t120件",
        "一、主要工作",
    ]


# --------------------------------------------------------------------------- wrong extensions


def test_pdf_saved_as_txt_is_read_as_pdf(tmp_path: Path) -> None:
    path = tmp_path / "shishi-2024.txt"
    path.write_bytes(make_pdf("shishi-2024"))
    report = parse_report(path).report
    assert (report.source_format, report.region, report.year) == ("pdf", "石狮市", 2024)


def test_html_saved_as_pdf_is_read_as_html(tmp_path: Path) -> None:
    path = tmp_path / "quangang-2023.pdf"
    path.write_bytes(make_html("quangang-2023", '<meta charset="gb2312">', "gb18030"))
    report = parse_report(path).report
    assert (report.source_format, report.region, report.adcode) == ("html", "泉州市泉港区", "350505")


def test_docx_saved_as_html_is_read_as_docx(tmp_path: Path) -> None:
    path = tmp_path / "shishi-2024.html"
    path.write_bytes(make_docx("shishi-2024"))
    assert parse_report(path).report.source_format == "docx"


def test_text_saved_as_docx_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "siping-2023.docx"
    path.write_bytes((EXAMPLES / "siping-2023.txt").read_bytes())
    report = parse_report(path).report
    assert (report.source_format, report.region) == ("text", "四平市")


def test_undeclared_gbk_html(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(make_html("shishi-2024", "", "gb18030"))
    report = parse_report(path).report
    assert (report.source_format, report.title) == ("html", TITLES["shishi-2024"])


def test_page_declaring_the_wrong_charset_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(make_html("shishi-2024", '<meta charset="utf-8">', "gb18030"))
    assert parse_report(path).report.title == TITLES["shishi-2024"]


def test_sniff_format() -> None:
    assert sniff_format(b"%PDF-1.4\n...") == "pdf"
    assert sniff_format(b"\xef\xbb\xbf<!DOCTYPE html><html>") == "html"
    assert sniff_format(b'<?xml version="1.0" encoding="gb2312"?>\n<!-- x -->\n<html>') == "html"
    assert sniff_format("<html>".encode("utf-16")) == "html"
    assert sniff_format("报告<html>".encode()) is None
    assert sniff_format(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image"
    assert sniff_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)) == "ole"
    assert sniff_format(_zip({"xl/workbook.xml": "<w/>"})) == "xlsx"
    assert sniff_format(_zip({"word/document.xml": "<w/>"})) == "docx"
    assert sniff_format(b"PK\x03\x04broken") == "zip"


# --------------------------------------------------------------------------- bad inputs


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def one_line_error(path: Path, capfd: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(InputError) as info:
        parse_report(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # libraries print nothing, log nothing
    return message.replace(str(path), "<file>")  # test names in the path must not satisfy the checks


def _scanned_pdf() -> bytes:
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for _ in range(2):
        c.drawImage(ImageReader(Image.new("L", (400, 560), 255)), 50, 100, 500, 700)
        c.showPage()
    c.save()
    return buf.getvalue()


def test_scanned_pdf(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_scanned_pdf())
    message = one_line_error(path, capfd)
    assert "no text layer (scanned PDF?); run OCR first or skip with --skip-bad" in message


def test_truncated_pdf(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(make_pdf("shishi-2024")[:12000])
    assert "truncated PDF" in one_line_error(path, capfd)


@pytest.mark.parametrize("damage", ["garbage", "middle"])
def test_corrupt_pdf(tmp_path: Path, capfd: pytest.CaptureFixture[str], damage: str) -> None:
    if damage == "garbage":
        data = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 5 >>\nstream\n\x00\x01\x02\x03endstream\n%%EOF\n"
    else:
        good = bytearray(make_pdf("shishi-2024"))
        good[1000:9000] = b"x" * 8000
        data = bytes(good)
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    assert "damaged PDF" in one_line_error(path, capfd)


def test_password_protected_pdf(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    files = {}
    for user in ("", "secret"):
        buf = io.BytesIO()
        c = canvas.Canvas(buf, encrypt=StandardEncryption(user, ownerPassword="owner", strength=128))
        c.setFont("STSong-Light", 12)
        c.drawString(72, 700, "2023年，本县坚持依法行政，深入推进法治政府建设，取得明显成效。")
        c.showPage()
        c.save()
        files[user] = tmp_path / f"enc{user or '-open'}.pdf"
        files[user].write_bytes(buf.getvalue())
    assert "依法行政" in read_document(files[""]).text  # owner password only: readable
    assert "password-protected PDF" in one_line_error(files["secret"], capfd)


def test_binary_txt(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scan.txt"
    path.write_bytes(bytes(range(256)) * 8)
    assert "binary" in one_line_error(path, capfd)


@pytest.mark.parametrize("suffix", [".txt", ".html", ".pdf", ".docx"])
def test_empty_file(tmp_path: Path, capfd: pytest.CaptureFixture[str], suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    assert "empty file" in one_line_error(path, capfd)


def test_html_page_without_text(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "blank.html"
    path.write_text("<!DOCTYPE html><html><head><script>var a = 1;</script></head><body> </body></html>", "utf-8")
    assert "no text found in the HTML page" in one_line_error(path, capfd)


def test_huge_single_line_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(("法治政府建设" * 1_200_000).encode("utf-8"))  # 21.6 MB, one line
    message = one_line_error(path, capfd)
    assert "too large" in message and f"{MAX_TEXT_CHARS:,}" in message


def test_long_line_without_sentence_punctuation(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "blob.txt"
    path.write_text("2023年，本县坚持依法行政。\n" + "QUJD" * 5000 + "\n", "utf-8")
    message = one_line_error(path, capfd)
    assert "without a line break or sentence punctuation" in message and f"{MAX_RUN_CHARS:,}" in message


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("table.xlsx", _zip({"[Content_Types].xml": "<x/>", "xl/workbook.xml": "<w/>"}), "an Excel workbook"),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4, "an image"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "old Office .doc/.xls/.ppt file"),
        ("archive.zip", _zip({"a.txt": "x"}), "ZIP archive"),
        ("notes.rtf", b"{\\rtf1\\ansi hello}", "RTF"),
        ("report.xlsx", "2023年，本县坚持依法行政。".encode(), "'.xlsx'"),
        ("report.csv", "2023年，本县坚持依法行政。".encode(), "'.csv'"),
    ],
)
def test_unsupported_types(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str, data: bytes, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    message = one_line_error(path, capfd)
    assert "unsupported file type" in message and what in message
    assert "supported: " + " ".join(SUPPORTED_SUFFIXES) in message


def test_docx_that_is_not_a_zip(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(bytes(range(256)) * 8)
    assert "not a Word .docx file" in one_line_error(path, capfd)


def test_truncated_docx(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(make_docx("shishi-2024")[:5000])
    assert "damaged Word file" in one_line_error(path, capfd)


def test_docx_without_its_parts(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(_zip({"word/document.xml": "<not-really/>"}))
    assert "damaged Word file" in one_line_error(path, capfd)


def _docx_bomb(unpacked: int) -> bytes:
    """A real .docx whose document.xml is padded with paragraphs to ``unpacked`` bytes (about 1000:1 deflated)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx("shishi-2024")))
    paragraph = "<w:p><w:r><w:t>法治政府建设持续推进。</w:t></w:r></w:p>".encode()
    chunk = paragraph * (4 * 2**20 // len(paragraph))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != "word/document.xml":
                bomb.writestr(info.filename, data)
                continue
            head, tail = data.split(b"<w:body>", 1)
            with bomb.open("word/document.xml", "w", force_zip64=True) as member:
                member.write(head + b"<w:body>")
                for _ in range(unpacked // len(chunk)):
                    member.write(chunk)
                member.write(tail)
    return out.getvalue()


def test_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Probe 3: a small .docx that unpacks to gigabytes was parsed in full (67 s, 3.9 GB) before being
    refused as too much text; its declared sizes are now checked first."""
    path = tmp_path / "bomb.docx"
    path.write_bytes(_docx_bomb(2 * MAX_UNPACKED_BYTES))
    assert path.stat().st_size < 2**20  # under 1 MB on disk
    started = time.perf_counter()
    message = one_line_error(path, capfd)
    assert time.perf_counter() - started < 10  # parsing it took minutes
    limit = MAX_UNPACKED_BYTES // 2**20
    assert re.match(rf"<file>: Word file unpacks to 25\d MiB, over the limit of {limit} MiB \(a ZIP bomb\?\); ",
                    message)


def _nested_page(depth: int, tag: str = "div") -> tuple[str, list[str]]:
    """A page whose first half of the report sits 100 elements deep and the rest ``depth`` deep."""
    lines = [f"第{i}条 本市持续推进法治政府建设，完善行政执法程序，第{i}项措施落实到位。" for i in range(60)]
    paragraphs = [f"<p>{line}</p>" for line in lines]
    inner = f"<{tag}>" * (depth - 100) + "".join(paragraphs[30:]) + f"</{tag}>" * (depth - 100)
    body = f"<{tag}>" * 100 + "".join(paragraphs[:30]) + inner + f"</{tag}>" * 100
    return f"<!DOCTYPE html><html><head><title>报告</title></head><body>{body}</body></html>", lines


@pytest.mark.parametrize(("depth", "tag"), [(300, "div"), (1000, "div"), (3000, "div"), (3000, "span")])
def test_deeply_nested_html_is_read_in_full(tmp_path: Path, depth: int, tag: str) -> None:
    """Probes 4 and 5: past ~255 nested elements lxml's default parser stopped, and the text deeper
    down was dropped without a word (or the page refused as "no text found"). Pages nested up to 2,048
    deep are parsed whole; deeper ones are flattened first."""
    page, lines = _nested_page(depth, tag)
    path = tmp_path / "deep.html"
    path.write_text(page, "utf-8")
    raw = read_document(path)
    assert raw.source_format == "html"
    assert [line for line in raw.text.split("\n") if line.strip()] == lines


def test_html_too_deep_even_when_flattened_says_so(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Probe 5: a page nested past lxml's limit in elements that are not flattened is refused, not read in part."""
    page, _ = _nested_page(3000, "ul")
    path = tmp_path / "deep.html"
    path.write_text(page, "utf-8")
    message = one_line_error(path, capfd)
    assert message == ("<file>: HTML page nested more than 2,048 elements deep, whose text cannot all be read; "
                       "save the page's text as .txt")


def test_pdf_name_with_binary_content(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(bytes(range(256)) * 8)
    assert "not a PDF (no %PDF- header)" in one_line_error(path, capfd)


# --------------------------------------------------------------------------- a missing part of the install


def _without_lxml_html_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import trafilatura`` fail the way it does after ``pip install`` with pip < 23.3: justext imports
    ``lxml.html.clean``, which raises a bare ImportError naming lxml_html_clean when that package is absent."""
    import trafilatura  # noqa: F401  (loaded once for real, so every module it pulls in is restored afterwards)

    for key in list(sys.modules):
        if key.split(".")[0] in ("trafilatura", "justext", "lxml_html_clean") or key == "lxml.html.clean":
            monkeypatch.delitem(sys.modules, key)
    monkeypatch.setitem(sys.modules, "lxml_html_clean", None)  # None in sys.modules: the import fails


def _html_page(tmp_path: Path) -> Path:
    path = tmp_path / "page.html"
    body = "".join(f"<p>{html.escape(x)}</p>" for x in raw_lines("shishi-2024")[:8])
    path.write_text(f"<html><head><title>报告</title></head><body><div>{body}</div></body></html>", "utf-8")
    return path


def test_html_without_lxml_html_clean_is_a_one_line_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _html_page(tmp_path)
    _without_lxml_html_clean(monkeypatch)
    message = one_line_error(path, capfd)
    assert message == "<file>: reading HTML needs lxml_html_clean; pip install 'lxml_html_clean'"


def test_cli_parse_html_without_lxml_html_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from simkit.cli import cli

    path = _html_page(tmp_path)
    _without_lxml_html_clean(monkeypatch)
    result = CliRunner().invoke(cli, ["parse", str(path)], env={"SIMKIT_INDEX": str(tmp_path / "no-index")})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert result.output.strip().splitlines() == [
        f"Error: {path}: reading HTML needs lxml_html_clean; pip install 'lxml_html_clean'"
    ]


def test_html_without_trafilatura_names_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _html_page(tmp_path)
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    message = one_line_error(path, capfd)
    assert message.startswith("<file>: reading HTML needs trafilatura") and "pip install" in message
    # Text files need nothing from the HTML stack.
    text = tmp_path / "report.txt"
    text.write_text("\n".join(raw_lines("shishi-2024")), "utf-8")
    assert parse_report(text).report.source_format == "text"
