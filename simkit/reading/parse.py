"""Clean report text, pull out its metadata and segment it.

Files are turned into raw text by :mod:`simkit.reading.readers` (text, HTML, PDF,
DOCX). Cleaning turns that into ``Report.text``, one logical paragraph per
line, which is embedded and shown and which all paragraph offsets point into:

- widths are normalized first (:func:`normalize_width`): full-width letters
  and digits become half-width, ASCII ``, ; : ? ! ( )`` next to Chinese text
  become ``， ； ： ？ ！ （ ）``;
- metadata header lines (``- 标题:…``, ``- 发布日期:…``) and the document-number,
  title, issuer and addressee lines before the body are removed (and used as
  metadata);
- web-page junk (navigation bars, ``当前位置``, ``字号``, ``扫一扫…``,
  ``【打印本页】``), page numbers and the closing block (``特此报告。``, signature,
  date, ``(此件主动公开)``) are removed;
- lines broken by PDF extraction are joined again (in hard-wrapped text a
  full-width line goes on even after a full stop), and the spaces PDF
  extraction puts around numbers inside Chinese text (``2023 年``, ``法 2 次``)
  are removed. Use :func:`normalize_query` on other text (queries, evidence)
  to compare it with ``Report.text`` the same way.

Metadata conventions: ``year`` is the year the report is about (not the year
it was published); ``province`` is the full name (``福建省``); ``region`` is the
most specific division the report is about, see :mod:`simkit.reading.regions`, with
its ``city`` and 6-digit ``adcode``; ``addressee`` is the body the report is
addressed to (``中共石狮市委``); ``published`` is an ISO date (``2025-01-26``);
``source_format`` is the file's real format (``text``/``html``/``pdf``/``docx``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from simkit import arguments
from simkit.errors import InputError
from simkit.reading.chrome import is_chrome, key_only, page_fields, strip_glued
from simkit.reading.issuers import split_org
from simkit.reading.origin import find_origin, title_org
from simkit.reading.readers import normalize_newlines, read_document
from simkit.reading.records import ParsedReport, Report
from simkit.reading.regions import RegionInfo, lookup, province_of
from simkit.reading.script import align_original, is_traditional, repair_pinyin_debris, to_simplified
from simkit.reading.segment import segment
from simkit.reading.sidecar import Metadata, read_sidecar

__all__ = [
    "clean_text",
    "document_id_for",
    "normalize_query",
    "normalize_spacing",
    "normalize_width",
    "parse_report",
    "read_text",
]

# --------------------------------------------------------------------------- reading


def read_text(path: str | Path) -> str:
    """Read a report file of any supported format as raw, uncleaned text with ``\\n`` newlines.

    See :mod:`simkit.reading.readers` for the formats, encodings and errors: every
    failure is one :class:`InputError` line naming the file and the fix.
    """
    return read_document(path).text


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


# --------------------------------------------------------------------------- width

# Full-width ASCII letters and digits (ＡＢ１２) and ％ → half-width.
_HALF_WIDTH = {
    **{code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)},
    **{code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)},
    **{code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)},
    ord("％"): ord("%"),
}
_FULL_PUNCT = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_CHINESE = re.compile(f"[{_CJK_CLASS}{_CJK_PUNCT}]")
_ASCII_PUNCT = re.compile(r"[,;:?!]")
_PARENS = re.compile(r"[()（）]")


def _neighbour(text: str, i: int, step: int) -> str:
    """The first character from ``text[i]`` in direction ``step`` that is not a space or tab."""
    while 0 <= i < len(text) and text[i] in " \t":
        i += step
    return text[i] if 0 <= i < len(text) else "\n"


def _is_chinese(ch: str) -> bool:
    return _CHINESE.match(ch) is not None


def _full_punct(m: re.Match[str]) -> str:
    string = m.string
    before, after = _neighbour(string, m.start() - 1, -1), _neighbour(string, m.end(), 1)
    if _is_chinese(before) or _is_chinese(after):
        return _FULL_PUNCT[m.group()]
    return m.group()


def _full_parens(line: str) -> str:
    """``(…)`` → ``（…）`` where the pair holds or touches Chinese text; stray ones next to Chinese too."""
    chars = list(line)
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    lone: list[int] = []
    for m in _PARENS.finditer(line):
        i = m.start()
        if line[i] in "(（":
            stack.append(i)
        elif stack:
            pairs.append((stack.pop(), i))
        else:
            lone.append(i)
    lone.extend(stack)
    for open_, close in pairs:
        if line[open_] == "(" or line[close] == ")":
            outside = line[open_ - 1 : open_] + line[close + 1 : close + 2]
            if _CHINESE.search(line[open_ + 1 : close] + outside) or "（" in (line[open_], line[close]):
                chars[open_], chars[close] = "（", "）"
    for i in lone:
        if line[i] in "()" and _CHINESE.search(line[max(0, i - 1) : i] + line[i + 1 : i + 2]):
            chars[i] = "（" if line[i] == "(" else "）"
    return "".join(chars)


def normalize_width(text: str) -> str:
    """Canonical widths: half-width letters and digits, Chinese punctuation in Chinese text.

    ``ＡＢ１２`` → ``AB12``, ``１００％`` → ``100%``; next to Chinese text
    ``, ; : ? !`` become ``， ； ： ？ ！`` (spaces around them are kept: they
    can separate inline outline items) and
    parentheses become ``（）`` (``(一)`` → ``（一）``, ``2024年,市政府`` →
    ``2024年，市政府``). ASCII punctuation inside numbers and Latin text
    (``3.5``, ``75.75%``, ``12:30``, ``e.g.``, ``1,000``) is kept. Newlines
    and spaces are kept: only characters are replaced, one for one.
    """
    text = text.translate(_HALF_WIDTH)
    text = re.sub(r"(?<=\d)．(?=\d)", ".", text)
    text = _ASCII_PUNCT.sub(_full_punct, text)
    if "(" in text or ")" in text:
        text = "\n".join(_full_parens(line) if ("(" in line or ")" in line) else line for line in text.split("\n"))
    return text


def normalize_query(text: str) -> str:
    """Normalize a query or evidence phrase the way ``Report.text`` is normalized (width, then spacing)."""
    return normalize_spacing(normalize_width(text)).strip()


# --------------------------------------------------------------------------- line classes

_SENT_END = "。！？；!?;…"
_CLOSERS = "”’」』）)】》\"'"
_ENDS_SENTENCE = re.compile(f"[{_SENT_END}：:][{re.escape(_CLOSERS)}]*$")
_HAS_SENT_PUNCT = re.compile(f"[{_SENT_END}]")
_ANY_PUNCT = re.compile(r"[，,。！？；;：:、!?]")
_OUTLINE_START = re.compile(
    r"^(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十百]+[）)]|\d{1,2}[.．、](?!\d)|[（(]\d{1,2}[）)]|[①-⑳])"
)
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
_ORG_DATE = re.compile(rf"^({_ORG_NAME})\s+({_DATE_CN}|\d{{4}}-\d{{1,2}}-\d{{1,2}})$")
_CLOSING = re.compile(r"^(?:特此报告|专此报告|以上报告|现予报告)[。.!！]?$")


def _strip_line(line: str) -> str:
    """Trim whitespace, bullets and navigation bars (``• |``, ``… |``) from a line."""
    line = line.replace("\u3000", " ").replace("\u00a0", " ").strip()
    line = re.sub(r"^(?:[•·▪●|]\s*)+", "", line)
    line = re.sub(r"(?:\s*\|)+\s*$", "", line)
    return line.strip()


_TRAILING_PUNCT = re.compile(r"[，。；：！？、”’）》」』】…,.;:!?)]+")


def _is_junk(line: str) -> bool:
    """Navigation, page furniture and other non-report lines."""
    if not line:
        return True
    if _PAGE_NUMBER.match(line) or _PUBLIC_NOTE.match(line):
        return True
    if not re.search(r"[\u4e00-\u9fffA-Za-z0-9]", line):
        return not _TRAILING_PUNCT.fullmatch(line)  # "：" wrapped onto its own line is joined back later
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
    """A report title: short, names a 报告, no sentence punctuation or commas (those are broken body lines)."""
    return (
        len(line) <= 80
        and "报告" in line
        and not line.rstrip().endswith(("。", "：", ":"))
        and not _HAS_SENT_PUNCT.search(line)
        and not re.search(r"[，,]", line)
        and not re.match(f"[{_CJK_PUNCT}]", line)
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
    addressee: str | None = None
    sites: list[str] = field(default_factory=list)  # the site's own name above the page (a banner)
    head_lines: list[str] = field(default_factory=list)  # every line above the body, as read


def _page_lines(lines: list[str], meta: _Meta) -> list[str]:
    """Lines without page chrome: date stamps and switches glued to text go, chrome lines go, and the
    fields of bylines and disclosure tables (a key and its value on one line or two) go to ``meta.header``."""
    kept: list[str] = []
    in_head = True
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        glued = strip_glued(line)
        if glued != line:
            if glued and in_head and _ORG_LINE.match(glued):
                meta.sites.append(glued)  # "天津市静海区人民政府 2019年12月3日星期二": the site's banner
                continue
            line = _strip_line(glued)
        key = key_only(line)
        if key is not None and in_head:
            j = i
            while j < len(lines) and not lines[j]:
                j += 1
            if j < len(lines) and key_only(lines[j]) is None and len(lines[j]) <= 80 and not _is_body_start(lines[j]):
                line, i = f"{key}：{lines[j]}", j + 1
            else:
                continue  # a key without a value
        fields = page_fields(line) if len(line) <= 200 else None
        if fields is not None and (in_head or line[:1] in "-•·*" or len(fields) >= 2):
            for k, v in fields.items():
                meta.header.setdefault(k, v)
            continue
        if is_chrome(line):
            continue
        if in_head and line and not _is_junk(line) and _is_body_start(line):
            in_head = False
        kept.append(line)
    return kept


def _clean(raw: str) -> tuple[str, _Meta]:
    meta = _Meta()
    lines = [_strip_line(x) for x in normalize_width(normalize_newlines(raw)).split("\n")]
    lines = _page_lines(lines, meta)
    lines = [x for x in lines if not _is_junk(x) or _ISO_DATETIME.match(x)]

    # Head: everything before the first body line.
    body_at = next((i for i, x in enumerate(lines) if _is_body_start(x)), len(lines))
    head, body = _merge_title_lines(lines[:body_at]), lines[body_at:]
    meta.head_lines = [x for x in head if x]
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
        elif (m := _ORG_DATE.match(line)) is not None:  # "清水县人民政府 2024年01月08日": a byline
            meta.issuer_lines.append(m.group(1))
            if (d := _iso_date(m.group(2))) is not None:
                meta.dates.append(d)
        elif _ADDRESSEE.match(line):  # "中共石狮市委：", "区人大常委会："
            meta.addressee = meta.addressee or re.sub(r"\s*[:：]$", "", line)
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
            and ("关于" in prev + line or _TITLE_YEAR.search(prev) or "法治" in prev)
            and len(prev) >= 6
        ):
            out[-1] = prev + line
        else:
            out.append(line)
    return out


def _join_broken(lines: list[str]) -> list[str]:
    """Join lines that PDF extraction broke in the middle of a sentence."""
    full = _wrap_width(lines)
    out: list[str] = []
    for line in lines:
        if out and _continues(out[-1], line, full):
            prev = out[-1]
            sep = " " if re.search(r"[A-Za-z]$", prev) and re.match(r"[A-Za-z]", line) else ""
            out[-1] = prev + sep + line
        else:
            out.append(line)
    return out


def _width(line: str) -> float:
    """Printed width in Chinese characters: ASCII counts half."""
    return len(line) - 0.5 * sum(1 for ch in line if ch < "\u0100")


def _wrap_width(lines: list[str]) -> float | None:
    """The line width of hard-wrapped (PDF) text, or None if lines are not wrapped at one width.

    Wrapped text has many lines of (nearly) the same, maximal width; text with one
    paragraph per line has widths all over the place.
    """
    widths = sorted(_width(x) for x in lines if len(x) >= 8)
    if len(widths) < 8:
        return None
    top = widths[int(0.9 * (len(widths) - 1))]
    full = [w for w in widths if top - 1.5 <= w <= top + 1]
    return top - 1.5 if top >= 15 and len(full) >= max(5, 0.3 * len(widths)) else None


def _continues(prev: str, line: str, full: float | None = None) -> bool:
    if _TRAILING_PUNCT.fullmatch(line):
        return True
    if _OUTLINE_START.match(line) or _is_title_like(line) or _is_heading_line(prev) or _is_title_like(prev):
        return False
    if _ENDS_SENTENCE.search(prev):
        # A full-width line of wrapped text goes on even after a full stop: paragraphs end short.
        return full is not None and _width(prev) >= full and not prev.endswith(("：", ":"))
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


def _year(title: str | None, text: str, head: list[str] | None = None) -> int | None:
    if title:
        m = _TITLE_YEAR.search(title.split("关于", 1)[-1])
        if m:
            return int(m.group(1))
    m = _BODY_YEAR.search(text[:300])
    if m:
        return int(m.group(1))
    # A page whose title is not a report's (a 解读 of one, a notice): the year its heading names.
    for line in head or []:
        if re.search(r"报告|法治|工作", line) and not _DOC_NUMBER.match(line):
            m = _TITLE_YEAR.search(line.split("关于", 1)[-1])
            if m:
                return int(m.group(1))
    return None


def _issuer(meta: _Meta, title: str | None) -> str | None:
    t_org, _ = title_org(title)
    if t_org is not None:
        return t_org.name
    for key in ("发布机构", "发文机关", "所属机构", "发文机构"):
        if meta.header.get(key) and split_org(meta.header[key]) is not None:
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


def _issuer_names(meta: _Meta) -> list[str]:
    """Names that may be the issuer's, strongest first: the page's field, the lines above the body, the signature."""
    names = [meta.header[k] for k in ("发布机构", "发文机关", "所属机构", "发文机构") if meta.header.get(k)]
    if meta.issuer_lines:
        names.append(" ".join(meta.issuer_lines))
        names.extend(meta.issuer_lines)
    if meta.signature:
        names.append(" ".join(meta.signature))
    return names


_INTERPRETATION = re.compile(r"政策解读|图解|解读如下|一图读懂|起草背景")
_PLAN = re.compile(r"工作要点|实施方案|工作安排|工作计划|行动方案|任务分工|规划(?!纲要)")
_OTHER = re.compile(r"的通知|的意见|规则|办法|决定$|纪要|公告")


def _report_kind(title: str | None, meta: _Meta, declared: str | None, text: str) -> str:
    """``report`` (an annual rule-of-law report) unless the title or page says it is a 政策解读, a plan or
    another kind of document (see :data:`simkit.reading.records.REPORT_KINDS`)."""
    named = " ".join(x for x in (title, declared, *meta.head_lines[:4]) if x)
    if _INTERPRETATION.search(named) or _INTERPRETATION.search(text[:200]):
        return "interpretation"
    subject = title or declared or " ".join(x for x in meta.head_lines[:5] if not _DOC_NUMBER.match(x))
    if subject and not re.search(r"报告|总结", subject):
        if _PLAN.search(subject):
            return "plan"
        if _OTHER.search(subject):
            return "other"
    return "report"


def _source(meta: _Meta) -> str | None:
    for key in ("来源", "信息来源", "文章来源", "来源单位"):
        value = meta.header.get(key, "").strip()
        if value and len(value) <= 40:
            return value
    return None


def _doc_number(meta: _Meta) -> str | None:
    for key in ("备注/文号", "文号", "发文字号"):
        value = meta.header.get(key, "").strip()
        m = re.search(r"[\u4e00-\u9fff]{1,15}\s*[〔［\[【（(]\s*\d{4}\s*[〕］\]】）)]\s*\d{1,5}\s*号", value)
        if m:
            return re.sub(r"\s+", "", m.group())
    return meta.doc_number


def _published(meta: _Meta) -> str | None:
    for key in ("发布日期", "发布时间", "发布于", "公开日期", "发文日期", "成文日期", "公文生成日期", "生成日期"):
        if meta.header.get(key) and (d := _iso_date(meta.header[key])):
            return d
    if meta.dates:
        return meta.dates[0]
    return meta.signature_date


_TITLE_NOISE = re.compile(r"^(?:Microsoft\s+Word\s*-\s*)|\.(?:docx?|wps|pdf|txt)$", re.IGNORECASE)


def _declared_title(declared: str | None) -> str | None:
    """A usable title from an HTML ``<title>`` or PDF/DOCX metadata, or None.

    Site names (``…_政务公开_石狮市人民政府``) and ``Microsoft Word - …`` are cut off;
    what is left must look like a report title.
    """
    if not declared:
        return None
    for part in re.split(r"\s*[_|｜]\s*|\s+[-—–]\s+", normalize_width(declared)):
        part = _normalize_title(_TITLE_NOISE.sub("", part.strip()))
        if part and _is_title_like(part):
            return part
    return None


def parse_report(
    path: str | Path,
    *,
    document_id: str | None = None,
    region: str | None = None,
    metadata: Metadata | None = None,
) -> ParsedReport:
    """Read, clean, describe and segment one report file (any format of :mod:`simkit.reading.readers`).

    ``document_id`` defaults to :func:`document_id_for`. What is known of the report outside its text
    overrides what is read from it: ``metadata`` (a row of a ``--metadata`` spreadsheet, see
    :mod:`simkit.reading.sidecar`), over the ``NAME.json`` beside the file, over the text; ``region``
    (a name such as ``泉州市泉港区``, ``--region``) overrides them all, and fills province, city and
    adcode when :func:`simkit.reading.regions.lookup` knows the name (the region is then its canonical
    name). The issuer, its kind and the region are found as :mod:`simkit.reading.origin` describes; a
    region that is not found (or stays ambiguous, with ``Report.region_candidates``) is ``None``, left
    to the caller to report. A traditional-script report is indexed in simplified script
    (``Report.text``) and keeps its original script in ``Report.original_text``, offset for offset.
    """
    path = arguments.path("path", path)
    document_id = arguments.optional_text("document_id", document_id)
    region = arguments.optional_text("region", region)
    if metadata is not None and not isinstance(metadata, Metadata):
        raise TypeError(f"metadata must be a simkit.reading.sidecar.Metadata, not {type(metadata).__name__}")
    raw = read_document(path)
    sidecar = read_sidecar(Path(path))
    known = metadata.merged_over(sidecar) if metadata is not None else sidecar
    raw_text = repair_pinyin_debris(raw.text)
    declared = raw.declared_title
    script: str | None = None
    original: str | None = None
    if is_traditional(raw_text):
        script = "traditional"
        simplified = to_simplified(raw_text)
        text, meta = _clean(simplified)
        original = align_original(text, normalize_width(normalize_newlines(simplified)),
                                  normalize_width(normalize_newlines(raw_text)))
        declared = to_simplified(declared) if declared else declared
    else:
        text, meta = _clean(raw_text)
    if not text:
        raise InputError(f"{path}: no report text left after removing page furniture; check the file's content")
    doc_id = document_id or document_id_for(path)

    title_raw = meta.header.get("标题") or meta.header.get("名称") or meta.title
    title = _normalize_title(title_raw) if title_raw else _declared_title(declared)
    if known is not None and known.title:
        title = known.title
    issuer = _issuer(meta, title)
    issuers = _issuer_names(meta)
    if known is not None and known.issuer:
        issuer = known.issuer
        issuers = [known.issuer, *issuers]
    source = known.source if known is not None and known.source else _source(meta)
    origin = find_origin(title=None if known is not None and known.issuer else title, issuers=issuers,
                         body=text, addressee=meta.addressee, sites=meta.sites + ([source] if source else []))
    issuer = issuer or origin.issuer
    issuer_kind, department = origin.issuer_kind, origin.department
    if known is not None and known.issuer:
        org = split_org(known.issuer)
        issuer_kind = org.kind if org is not None else issuer_kind
        department = org.department if org is not None else department
    if known is not None:
        issuer_kind = known.issuer_kind or issuer_kind
        department = known.department or department
    if issuer_kind != "department":
        department = None

    info: RegionInfo | None = origin.region
    region_name: str | None = info.name if info else None
    province = info.province if info else None
    candidates, region_source = origin.candidates, origin.region_source
    if known is not None and known.issuer and region_source == "issuer":
        region_source = "metadata"  # found from the issuer the metadata names
    if region is not None:
        info = lookup(region)
        region_name = info.name if info else region
        province = info.province if info else province_of(region)
        candidates, region_source = (), "--region"
    elif known is not None and known.region is not None:
        info = known.region
        region_name, province = info.name, info.province
        candidates, region_source = (), "metadata"

    report = Report(
        id=doc_id,
        path=str(path),
        sha256=raw.sha256,
        text=text,
        title=title,
        region=region_name,
        province=province,
        city=info.city if info else None,
        adcode=info.adcode if info else None,
        year=known.year if known is not None and known.year else _year(title, text, meta.head_lines),
        issuer=issuer,
        addressee=meta.addressee,
        published=known.published if known is not None and known.published else _published(meta),
        doc_number=_doc_number(meta),
        source_format=raw.source_format,
        issuer_kind=issuer_kind,
        department=department,
        report_kind=(known.report_kind if known is not None and known.report_kind
                     else _report_kind(title, meta, declared, text)),
        source=source,
        index_number=meta.header.get("索引号") or None,
        url=known.url if known is not None else None,
        region_candidates=tuple(candidates) if region_name is None else (),
        region_source=region_source if region_name is not None else None,
        script=script,
        original_text=original,
    )
    return ParsedReport(report=report, paragraphs=segment(text, doc_id))
