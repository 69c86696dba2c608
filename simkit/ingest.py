"""Read report files, clean them, pull out their metadata and segment them.

Cleaning turns the raw file into ``Report.text``, one logical paragraph per
line, which all paragraph offsets point into:

- metadata header lines (``- 标题:…``, ``- 发布日期:…``) and the document-number,
  title, issuer and addressee lines before the body are removed (and used as
  metadata);
- web-page junk (navigation bars, ``当前位置``, ``字号``, ``扫一扫…``,
  ``【打印本页】``), page numbers and the closing block (``特此报告。``, signature,
  date, ``(此件主动公开)``) are removed;
- lines broken by PDF extraction are joined again, and the spaces PDF
  extraction puts around numbers inside Chinese text (``2023 年``, ``法 2 次``)
  are removed. Use :func:`normalize_spacing` on other text (queries, evidence)
  to compare it with ``Report.text`` the same way.

Metadata conventions: ``year`` is the year the report is about (not the year
it was published); ``province`` is the full name (``福建省``); ``region`` is the
most specific division the report is about, see :mod:`simkit.regions`;
``published`` is an ISO date (``2025-01-26``).
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from simkit.errors import InputError
from simkit.records import ParsedReport, Report
from simkit.regions import detect_region, province_of
from simkit.segment import segment

__all__ = [
    "clean_text",
    "document_id_for",
    "normalize_spacing",
    "parse_report",
    "read_text",
]

# --------------------------------------------------------------------------- reading

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936", "euc_cn", "hz_gb_2312", "iso2022_cn"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _decode_error(name: str, what: str) -> InputError:
    return InputError(f"{name}: {what}; save it as UTF-8 or GBK text (.txt) or remove it")


def _binary_error(name: str) -> InputError:
    return InputError(f"{name}: not a text report (binary data); convert it to UTF-8 text (.txt) or remove it")


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    return len(_CONTROL.findall(text)) > max(2, len(text) // 200)


def _detect(data: bytes) -> str | None:
    """Decode bytes that are not UTF-8, preferring GB18030 for Chinese encodings."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    candidates: list[str] = []
    if best is not None and best.encoding:
        enc = codecs.lookup(best.encoding).name.replace("-", "_")
        candidates.append("gb18030" if enc in _GB_FAMILY else best.encoding)
    # Short Chinese texts are sometimes guessed as another CJK code page: compare with
    # GB18030 and keep whichever decodes strictly and yields more Chinese characters.
    candidates.append("gb18030")
    decoded: list[str] = []
    for enc in candidates:
        try:
            decoded.append(data.decode(enc))
        except (UnicodeDecodeError, LookupError):
            continue
    if not decoded:
        return None
    return max(decoded, key=lambda t: len(_CJK.findall(t)) - 10 * len(_CONTROL.findall(t)))


_PLAUSIBLE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef\u2010-\u2027\u00b7\x20-\x7e\s]")


def _utf16_without_bom(data: bytes) -> str | None:
    """Decode UTF-16 text saved without a BOM, or return None.

    ASCII characters put a NUL byte on the same side of each byte pair; the
    decoded text must then consist of ordinary Chinese and ASCII text.
    """
    if len(data) % 2:
        return None
    odd = sum(1 for b in data[1::2] if b == 0)
    even = sum(1 for b in data[0::2] if b == 0)
    if max(odd, even) < len(data) // 40 or min(odd, even) > max(odd, even) // 4:
        return None
    try:
        text = data.decode("utf-16-le" if odd > even else "utf-16-be")
    except UnicodeDecodeError:
        return None
    plausible = len(_PLAUSIBLE.findall(text))
    return text if plausible >= 0.98 * len(text) and not _looks_binary(text) else None


def read_text(path: str | Path) -> str:
    """Read a report file as text with normalized newlines.

    UTF-8 (with or without BOM) and UTF-16/32 (with BOM, or UTF-16 without)
    are read directly; anything else is detected with charset-normalizer, and
    the GBK/GB2312 family is always decoded as GB18030. Raises
    :class:`InputError` (one line, naming the file and the fix) for a missing
    path, a directory, binary data, an empty or whitespace-only file, or
    undecodable bytes.
    """
    return _read(path)[1]


def _read(path: str | Path) -> tuple[bytes, str]:
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise InputError(f"{name}: no such file; check the path")
    if p.is_dir():
        raise InputError(f"{name}: is a directory, not a report file; pass the report files inside it")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc}); check its permissions") from exc
    if not data:
        raise InputError(f"{name}: empty file; re-export the report or remove it")

    text: str | None = None
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                raise _decode_error(name, f"invalid {enc} text") from exc
            break
    if text is None and b"\x00" in data:
        text = _utf16_without_bom(data)
        if text is None:
            raise _binary_error(name)
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _detect(data)
            if text is None:
                raise _decode_error(name, "cannot decode the bytes as text") from None
    text = text.lstrip("\ufeff")
    if _looks_binary(text):
        raise _binary_error(name)
    text = _normalize_newlines(text)
    if not text.strip():
        raise InputError(f"{name}: contains only whitespace; re-export the report or remove it")
    return data, text


def _normalize_newlines(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\u2028\u2029\x0b\x0c\x85]", "\n", text)


def document_id_for(path: str | Path) -> str:
    """A readable, stable id from the file stem: ``shishi-2024``; ``doc-1a2b3c4d5e`` for non-ASCII stems."""
    stem = Path(path).stem
    if stem.isascii():
        slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
        if slug:
            return slug
    return "doc-" + hashlib.sha1(stem.encode("utf-8")).hexdigest()[:10]


# --------------------------------------------------------------------------- spacing

_CJK_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef\u2018-\u201f\u2026\u2014"
_WIDE = f"[{_CJK_CLASS}{_CJK_PUNCT}]"
_TOKEN = r"[0-9A-Za-z][0-9A-Za-z.%‰+\-/:]*"
# A number or Latin word with PDF spaces around it inside Chinese text: "法 2 次",
# "材料 10000 余份", "达 100%。", "，2023 年以来". Asymmetric spacing ("不足 2023年")
# is kept: there the space separates a heading from its text.
_SPACED_TOKEN = re.compile(
    rf"(?:(?<={_WIDE})|^)([ \t]*)({_TOKEN})([ \t]*)(?={_WIDE}|$)",
    re.MULTILINE,
)


def _despace(m: re.Match[str]) -> str:
    left, token, right = m.group(1), m.group(2), m.group(3)
    string, start, end = m.string, m.start(), m.end()
    before = string[start - 1] if start > 0 else "\n"
    after = string[end] if end < len(string) else "\n"
    drop_left = bool(left) and _is_wide(before) and (bool(right) or _is_cjk_punct(after) or after == "\n")
    drop_right = bool(right) and _is_wide(after) and (bool(left) or _is_cjk_punct(before) or before == "\n")
    return ("" if drop_left else left) + token + ("" if drop_right else right)


def _is_wide(ch: str) -> bool:
    return re.match(_WIDE, ch) is not None


def _is_cjk_punct(ch: str) -> bool:
    return re.match(f"[{_CJK_PUNCT}]", ch) is not None


def normalize_spacing(text: str) -> str:
    """Collapse whitespace runs and remove PDF spaces around numbers in Chinese text.

    ``2023 年`` → ``2023年``, ``法 2 次`` → ``法2次``, ``达 100%。`` → ``达100%。``.
    Newlines are kept; spaces between Chinese words are kept.
    """
    text = re.sub(r"[^\S\n]+", " ", text.replace("\u3000", " ").replace("\u00a0", " "))
    return _SPACED_TOKEN.sub(_despace, text)


# --------------------------------------------------------------------------- line classes

_SENT_END = "。！？；!?;…"
_CLOSERS = "”’」』）)】》\"'"
_ENDS_SENTENCE = re.compile(f"[{_SENT_END}：:][{re.escape(_CLOSERS)}]*$")
_HAS_SENT_PUNCT = re.compile(f"[{_SENT_END}]")
_ANY_PUNCT = re.compile(r"[，,。！？；;：:、!?]")
_OUTLINE_START = re.compile(
    r"^(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十百]+[）)]|\d{1,2}[.．、](?!\d)|[（(]\d{1,2}[）)]|[①-⑳])"
)
_META_KEYS = {
    "索引号", "主题分类", "发布机构", "发文机关", "公文生成日期", "成文日期", "生成日期", "标题", "名称",
    "备注/文号", "文号", "发文字号", "发布日期", "公开日期", "来源", "有效性", "主题词", "体裁分类",
    "组配分类", "公开方式", "公开范围", "信息来源", "所属机构", "发布时间",
}  # fmt: skip
_META_LINE = re.compile(r"^[-•·*]?\s*([^:：\s]+(?:\s[^:：\s]+){0,3})\s*[:：]\s*(.*)$")
_NAV_WORDS = re.compile(
    r"当前位置|您的位置|移动版|网站支持|IPV6|IPv6|字号|打印本页|关闭窗口|扫一扫|手机上查看|分享到|"
    r"浏览次数|访问次数|阅读次数|点击数|网站地图|【[大中小打印关闭]|^返回顶部$|^上一篇|^下一篇|^相关链接"
)
# Lines made only of these words are navigation ("首页 | 登录", "EN", "闽政通APP", "来源：…").
_NAV_TOKEN = re.compile(
    r"首页|登录|注册|收藏|繁体|简体|无障碍|长者模式|EN|English|[\u4e00-\u9fff]{0,6}APP|来源[:：].{0,30}|附件[:：]?"
)
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－~\s]*\d{1,3}[-—–－~\s]*|第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+)$"
)
_PUBLIC_NOTE = re.compile(r"^[（(]此件.{0,10}[)）]$")
_CN_DIGITS = "〇○零一二三四五六七八九十"
_DATE_CN = rf"(?:\d{{4}}|[{_CN_DIGITS}]{{4}})\s*年\s*[\d{_CN_DIGITS}]{{1,3}}\s*月\s*[\d{_CN_DIGITS}]{{1,3}}\s*日"
_DATE_LINE = re.compile(rf"^{_DATE_CN}$")
_ISO_DATETIME = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_DOC_NUMBER = re.compile(r"^[\u4e00-\u9fff]{1,15}\s*[〔［\[【（(]\s*\d{4}\s*[〕］\]】）)]\s*\d{1,5}\s*号$")
_ORG_SUFFIX = (
    r"(?:人民政府|政府|委员会|常委会|市委|县委|区委|州委|省委|旗委|党委|委|政协|办公室|办公厅|办|局|厅|院|司法局)"
)
_ORG_NAME = rf"[\u4e00-\u9fff（）()]{{1,30}}{_ORG_SUFFIX}"
_ORG_LINE = re.compile(rf"^{_ORG_NAME}(?:\s+{_ORG_NAME})*$")
_ADDRESSEE = re.compile(rf"^{_ORG_NAME}(?:[、，,\s]+{_ORG_NAME})*\s*[:：]$")
_CLOSING = re.compile(r"^(?:特此报告|专此报告|以上报告|现予报告)[。.!！]?$")


def _strip_line(line: str) -> str:
    """Trim whitespace, bullets and navigation bars (``• |``, ``… |``) from a line."""
    line = line.replace("\u3000", " ").replace("\u00a0", " ").strip()
    line = re.sub(r"^(?:[•·▪●|]\s*)+", "", line)
    line = re.sub(r"(?:\s*\|)+\s*$", "", line)
    return line.strip()


def _is_junk(line: str) -> bool:
    """Navigation, page furniture and other non-report lines."""
    if not line:
        return True
    if _PAGE_NUMBER.match(line) or _PUBLIC_NOTE.match(line):
        return True
    if not re.search(r"[\u4e00-\u9fffA-Za-z0-9]", line):
        return True
    if _OUTLINE_START.match(line):
        return False
    short = len(line) <= 40 and not _HAS_SENT_PUNCT.search(line.rstrip("。"))
    if short and _NAV_WORDS.search(line):
        return True
    if short and all(_NAV_TOKEN.fullmatch(t) for t in re.split(r"[\s/|｜]+", line) if t):
        return True
    # A timestamp line, possibly with page furniture: "2022-03-10 10:58 字号:".
    return bool(_ISO_DATETIME.match(line) and len(_ISO_DATETIME.sub("", line).strip()) <= 8)


def _is_heading_line(line: str) -> bool:
    """An outline heading line: a marker and a short title without sentence punctuation."""
    if not _OUTLINE_START.match(line):
        return False
    body = re.sub(f"[{_SENT_END}]+$", "", line)
    return len(body) <= 60 and not _HAS_SENT_PUNCT.search(body)


def _is_title_like(line: str) -> bool:
    return (
        len(line) <= 80
        and "报告" in line
        and not line.rstrip().endswith(("。", "：", ":"))
        and not _HAS_SENT_PUNCT.search(line)
        and not _OUTLINE_START.match(line)
    )


def _is_body_start(line: str) -> bool:
    if _OUTLINE_START.match(line):
        return True
    return len(line) >= 25 and bool(re.search(r"[，,。；;]", line)) and not _is_title_like(line)


def _iso_date(text: str) -> str | None:
    m = _ISO_DATETIME.search(text)
    if m:
        y, mo, d = (int(g) for g in m.groups()[:3])
    else:
        m = re.search(_DATE_CN, text)
        if not m:
            return None
        parts = re.findall(rf"[\d{_CN_DIGITS}]+", m.group())
        if len(parts) != 3:
            return None
        y, mo, d = (_cn_number(p) for p in parts)
    if not (1949 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _cn_number(s: str) -> int:
    if s.isdigit():
        return int(s)
    digits = {c: i for i, c in enumerate("〇一二三四五六七八九")}
    digits.update({"○": 0, "零": 0})
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (digits.get(tens, 1) if tens else 1) * 10 + (digits.get(ones, 0) if ones else 0)
    return int("".join(str(digits.get(c, 0)) for c in s))


# --------------------------------------------------------------------------- cleaning


@dataclass
class _Meta:
    header: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    doc_number: str | None = None
    issuer_lines: list[str] = field(default_factory=list)
    signature: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    signature_date: str | None = None


def _meta_key(raw: str) -> str | None:
    key = re.sub(r"\s+", "", raw)
    return key if key in _META_KEYS else None


def _clean(raw: str) -> tuple[str, _Meta]:
    meta = _Meta()
    lines = [_strip_line(x) for x in _normalize_newlines(raw).split("\n")]

    # Header metadata lines ("- 标题:…") anywhere, bare "标题：…" only before the body.
    kept: list[str] = []
    in_head = True
    for line in lines:
        m = _META_LINE.match(line)
        if m and (line[:1] in "-•·*" or in_head) and len(line) <= 120:
            key = _meta_key(m.group(1))
            if key is not None:
                meta.header.setdefault(key, m.group(2).strip())
                continue
        if in_head and line and not _is_junk(line) and _is_body_start(line):
            in_head = False
        kept.append(line)
    lines = [x for x in kept if not _is_junk(x) or _ISO_DATETIME.match(x)]

    # Head: everything before the first body line.
    body_at = next((i for i, x in enumerate(lines) if _is_body_start(x)), len(lines))
    head, body = _merge_title_lines(lines[:body_at]), lines[body_at:]
    rest_head: list[str] = []
    for line in head:
        if _ISO_DATETIME.match(line) or _DATE_LINE.match(line):
            if (d := _iso_date(line)) is not None:
                meta.dates.append(d)
        elif _DOC_NUMBER.match(line):
            meta.doc_number = meta.doc_number or re.sub(r"\s+", "", line)
        elif _is_title_like(line):
            meta.title = meta.title or line
        elif _ORG_LINE.match(line):
            meta.issuer_lines.append(line)
        elif _ADDRESSEE.match(line):
            pass  # addressee ("中共石狮市委:", "区人大常委会：")
        elif not _is_junk(line):
            rest_head.append(line)
    body = [x for x in body if not _is_junk(x)]

    # Tail: closing formula, signature, date, publication notes.
    while body:
        last = body[-1]
        if _CLOSING.match(last) or _DATE_LINE.match(last):
            if _DATE_LINE.match(last):
                meta.signature_date = meta.signature_date or _iso_date(last)
            body.pop()
        elif _ORG_LINE.match(last) and len(last) <= 60:
            meta.signature.insert(0, last)
            body.pop()
        else:
            break
    if body:
        body[-1] = re.sub(r"\s*(?:特此报告|专此报告)[。.!！]?$", "", body[-1]) or body[-1]

    # Spacing first, per line, so that a line starting "120 宗" loses its PDF space before joining.
    spaced = normalize_spacing("\n".join(rest_head + body)).split("\n")
    text = "\n".join(x.strip() for x in _join_broken([x.strip() for x in spaced if x.strip()]))
    return text, meta


def _merge_title_lines(head: list[str]) -> list[str]:
    """Join a title that was wrapped over two lines ("…关于2022年度法治政府" + "建设情况的报告")."""
    out: list[str] = []
    for line in head:
        prev = out[-1] if out else ""
        if (
            prev
            and "报告" not in prev
            and ("关于" in prev or not _ANY_PUNCT.search(prev))
            and not _ORG_LINE.match(prev)
            and not _DOC_NUMBER.match(prev)
            and not _is_junk(prev)
            and _is_title_like(prev + line)
            and "关于" in prev + line
        ):
            out[-1] = prev + line
        else:
            out.append(line)
    return out


def _join_broken(lines: list[str]) -> list[str]:
    """Join lines that PDF extraction broke in the middle of a sentence."""
    out: list[str] = []
    for line in lines:
        if out and _continues(out[-1], line):
            prev = out[-1]
            sep = " " if re.search(r"[A-Za-z]$", prev) and re.match(r"[A-Za-z]", line) else ""
            out[-1] = prev + sep + line
        else:
            out.append(line)
    return out


def _continues(prev: str, line: str) -> bool:
    if _ENDS_SENTENCE.search(prev) or _is_heading_line(prev) or _is_title_like(prev):
        return False
    if _OUTLINE_START.match(line) or _is_title_like(line):
        return False
    if re.match(f"[{_CJK_PUNCT}]", line) and not re.match(r"[“‘《（(【「]", line):
        return True  # the next line starts with a comma or a closing mark
    # A short line without any punctuation is a stand-alone title, not a broken sentence.
    return not (len(prev) <= 20 and not _ANY_PUNCT.search(prev))


def clean_text(raw: str) -> str:
    """The cleaned text of a raw report (what becomes ``Report.text``)."""
    return _clean(raw)[0]


# --------------------------------------------------------------------------- metadata


def _normalize_title(title: str) -> str:
    title = re.sub(r"\s+", " ", title).strip()
    title = re.sub(rf"(?<=[{_CJK_CLASS}\d])\s+(?=[{_CJK_CLASS}\d])", "", title)
    return title


_TITLE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?:度)?(?![—\-–~至到]\d)")
_BODY_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?:度)?(?:以来)?\s*[，,、]")


def _year(title: str | None, text: str) -> int | None:
    if title:
        m = _TITLE_YEAR.search(title.split("关于", 1)[-1])
        if m:
            return int(m.group(1))
    m = _BODY_YEAR.search(text[:300])
    return int(m.group(1)) if m else None


def _issuer(meta: _Meta, title: str | None) -> str | None:
    for key in ("发布机构", "发文机关", "所属机构"):
        if meta.header.get(key):
            return meta.header[key]
    if meta.issuer_lines:
        return " ".join(meta.issuer_lines)
    if meta.signature:
        return " ".join(meta.signature)
    if title and "关于" in title:
        prefix = title.split("关于", 1)[0].strip()
        if re.search(f"{_ORG_SUFFIX}$", prefix):
            return prefix
    return None


def _doc_number(meta: _Meta) -> str | None:
    for key in ("备注/文号", "文号", "发文字号"):
        value = meta.header.get(key, "").strip()
        m = re.search(r"[\u4e00-\u9fff]{1,15}\s*[〔［\[【（(]\s*\d{4}\s*[〕］\]】）)]\s*\d{1,5}\s*号", value)
        if m:
            return re.sub(r"\s+", "", m.group())
    return meta.doc_number


def _published(meta: _Meta) -> str | None:
    for key in ("发布日期", "发布时间", "公开日期", "成文日期", "公文生成日期", "生成日期"):
        if meta.header.get(key) and (d := _iso_date(meta.header[key])):
            return d
    if meta.dates:
        return meta.dates[0]
    return meta.signature_date


def parse_report(
    path: str | Path,
    *,
    document_id: str | None = None,
    region: str | None = None,
) -> ParsedReport:
    """Read, clean, describe and segment one report file.

    ``document_id`` defaults to :func:`document_id_for`; ``region`` (a name such
    as ``泉州市泉港区``) overrides the detected region. An undetected region is
    ``None`` and left to the caller to report.
    """
    data, raw_text = _read(path)
    sha = hashlib.sha256(data).hexdigest()
    text, meta = _clean(raw_text)
    if not text:
        raise InputError(f"{path}: no report text left after removing page furniture; check the file's content")
    doc_id = document_id or document_id_for(path)

    title_raw = meta.header.get("标题") or meta.header.get("名称") or meta.title
    title = _normalize_title(title_raw) if title_raw else None
    issuer = _issuer(meta, title)
    if region is not None:
        region_name: str | None = region
        province = province_of(region)
    else:
        head = "\n".join(x for x in (title, issuer, text[:300]) if x)
        info = detect_region(head)
        region_name = info.name if info else None
        province = info.province if info else None

    report = Report(
        id=doc_id,
        path=str(path),
        sha256=sha,
        text=text,
        title=title,
        region=region_name,
        province=province,
        year=_year(title, text),
        issuer=issuer,
        published=_published(meta),
        doc_number=_doc_number(meta),
    )
    return ParsedReport(report=report, paragraphs=segment(text, doc_id))
