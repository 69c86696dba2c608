"""Turn one report file into plain text, whatever format it was saved in.

Supported formats and how they are read:

- ``.txt`` / ``.md``: plain text in UTF-8 (with or without BOM), UTF-16/32
  (with BOM, or UTF-16 without), or any encoding charset-normalizer
  recognizes; the GBK family (GB2312, GBK, GB18030) is always decoded as
  GB18030.
- ``.html`` / ``.htm``: the page's main article text, found by trafilatura
  (navigation, scripts, styles, footers and share widgets are left out). The
  encoding declared in ``<meta charset>`` / ``http-equiv`` (or ``<?xml
  encoding>``) is used when it decodes the page, else it is detected as for
  text.
- ``.pdf``: the text layer, page by page, through pypdf. A PDF without one
  (a scan) is an error that suggests OCR.
- ``.docx``: body paragraphs and table rows in document order, through
  python-docx, once the archive is known to unpack to at most
  :data:`MAX_UNPACKED_BYTES` (a ZIP bomb is refused before it is parsed).

Only regular files are read: a FIFO, a device (``/dev/zero``) or a socket is
refused before anything is read from it, and at most :data:`MAX_FILE_BYTES`
(plus one) bytes are ever read, even from a file that grows meanwhile.

**The bytes decide, not the extension.** The real type is sniffed from magic
bytes: ``%PDF-`` → PDF, a ZIP archive holding ``word/document.xml`` → DOCX,
text starting with ``<!DOCTYPE html`` / ``<html`` (or ``<head``, ``<meta``…)
→ HTML. So a PDF saved as ``.txt`` and an HTML page saved as ``.pdf`` are
read by their real type, and a ``.pdf`` / ``.docx`` that holds plain text is
read as text. A ``.pdf`` or ``.docx`` that is neither its claimed type nor
text is an error saying so; other known formats (``.xlsx`` and other ZIP
archives, old ``.doc`` / ``.xls``, images) and unsupported extensions are
"unsupported file type" errors. A file without extension is read like
``.txt``.

Every failure is one :class:`~simkit.errors.InputError` line naming the file
and the fix. Nothing here prints; library warnings are silenced. The format
libraries are imported only when a file of their format is read.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simkit.errors import InputError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_HTML_DEPTH",
    "MAX_RUN_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_UNPACKED_BYTES",
    "SUPPORTED_SUFFIXES",
    "RawDocument",
    "decode_bytes",
    "normalize_newlines",
    "read_document",
    "sniff_format",
]

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
#: Files larger than this are not read at all (PDFs with many images included).
MAX_FILE_BYTES = 100 * 1024 * 1024
#: A .docx (a ZIP archive) whose parts unpack to more than this is refused before it is parsed: a few MB
#: of compressed XML can otherwise unpack to gigabytes (a "ZIP bomb") that python-docx would parse whole.
#: Real reports unpack to a few MB, embedded pictures included; this bounds the time and memory of one file.
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
#: Reports have 10-200 KB of text; more than this many characters is not one report.
MAX_TEXT_CHARS = 2_000_000
#: Longest stretch of text allowed without a line break or sentence punctuation.
MAX_RUN_CHARS = 10_000
#: A PDF whose text layer has fewer non-space characters than this is taken for a scan.
MIN_PDF_TEXT_CHARS = 20

_SUPPORTED_LIST = " ".join(SUPPORTED_SUFFIXES)
_TEXT_SUFFIXES = {".txt", ".md", ""}
_HTML_SUFFIXES = {".html", ".htm"}


@dataclass(frozen=True)
class RawDocument:
    """A file's text before cleaning.

    ``source_format`` is ``"text"``, ``"html"``, ``"pdf"`` or ``"docx"`` (the
    real type, which may differ from the extension); ``declared_title`` is an
    HTML page's title or a PDF's / DOCX's metadata title, when it has one;
    ``sha256`` is the hash of the file's bytes.
    """

    text: str
    source_format: str
    sha256: str
    declared_title: str | None = None


# --------------------------------------------------------------------------- entry point


def read_document(path: str | Path) -> RawDocument:
    """Read a report file of any supported format as text with ``\\n`` newlines.

    Raises :class:`InputError` (one line, naming the file and the fix) for a
    missing path, a directory, an empty, binary, undecodable, oversized or
    unsupported file, a damaged or password-protected PDF, a scanned PDF
    without a text layer, or a damaged DOCX.
    """
    p = Path(path)
    name = str(path)
    data = _read_bytes(p, name)
    kind = sniff_format(data)
    suffix = p.suffix.lower()
    title: str | None = None
    if kind == "pdf":
        fmt = "pdf"
        text, title = _read_pdf(data, name)
    elif kind == "docx":
        fmt = "docx"
        text, title = _read_docx(data, name)
    elif kind == "zip" and suffix == ".docx":
        raise InputError(
            f"{name}: damaged Word file (not a valid .docx ZIP archive); save it again as .docx or as .txt"
        )
    elif kind is not None and kind != "html":
        raise _unsupported(name, _KIND_NAMES[kind])
    elif suffix not in SUPPORTED_SUFFIXES and suffix not in _TEXT_SUFFIXES:
        raise _unsupported(name, f"'{p.suffix}'")
    else:
        text, fmt, title = _read_markup_or_text(data, name, suffix, kind == "html")
    text = normalize_newlines(text).lstrip("\ufeff")
    if not text.strip():
        what = {"text": "contains only whitespace", "html": "no text found in the HTML page"}.get(fmt, "no text")
        raise InputError(f"{name}: {what}; re-export the report or remove it")
    _check_size(text, name)
    return RawDocument(text=text, source_format=fmt, sha256=hashlib.sha256(data).hexdigest(), declared_title=title)


def _read_bytes(p: Path, name: str) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`; anything else is an :class:`InputError`.

    The file is opened without blocking (a FIFO would otherwise wait for a writer) and checked
    again once open, so that a path swapped for a device meanwhile is refused too.
    """
    try:
        info = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{name}: no such file; check the path") from None
    except OSError as exc:
        raise InputError(
            f"{name}: cannot be read ({exc.strerror or exc}); check its permissions and its folder's"
        ) from exc
    _check_regular(info, name)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(p, flags)
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            _check_regular(info, name)
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc}); check its permissions") from exc
    if len(data) > MAX_FILE_BYTES:
        size = max(info.st_size, len(data))
        raise InputError(
            f"{name}: too large for a report ({size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MiB); "
            "split it or remove it"
        )
    if not data:
        raise InputError(f"{name}: empty file; re-export the report or remove it")
    return data


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(info: os.stat_result, name: str) -> None:
    """Refuse a directory, a device, a FIFO or a socket (whose reading may block or never end)."""
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(f"{name}: is a directory, not a report file; pass the report files inside it")
    if not stat.S_ISREG(mode):
        what = next((label for test, label in _NOT_REGULAR if test(mode)), "an unknown kind of file")
        raise InputError(f"{name}: not a regular file ({what}), not read; pass a report file")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(
            f"{name}: too large for a report ({info.st_size / 1e6:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES // 2**20} MiB); split it or remove it"
        )


def _unsupported(name: str, what: str) -> InputError:
    return InputError(
        f"{name}: unsupported file type ({what}); supported: {_SUPPORTED_LIST}; convert it to one of these or remove it"
    )


def _check_size(text: str, name: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(
            f"{name}: too much text for one report ({len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}, "
            "reports have 10-200 KB); split it into one file per report or remove it"
        )
    longest = max(len(run) for run in _RUN_BREAK.split(text))
    if longest > MAX_RUN_CHARS:
        raise InputError(
            f"{name}: not report text ({longest:,} characters without a line break or sentence punctuation; "
            f"the limit is {MAX_RUN_CHARS:,}); check the file's content or remove it"
        )


_RUN_BREAK = re.compile(r"[\n。！？；!?;.．]")


# --------------------------------------------------------------------------- sniffing

_KIND_NAMES = {
    "zip": "a ZIP archive that is not a Word .docx file",
    "xlsx": "an Excel workbook",
    "pptx": "a PowerPoint presentation",
    "ole": "an old Office .doc/.xls/.ppt file",
    "image": "an image: run OCR on it first",
    "rtf": "an RTF document",
}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM")
_HTML_START = re.compile(
    rb"^(?:\s|<\?xml[^>]*>|<!--.*?-->)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
    re.IGNORECASE | re.DOTALL,
)


def sniff_format(data: bytes) -> str | None:
    """The real type of a file from its first bytes.

    ``"pdf"``, ``"docx"`` or ``"html"`` for supported formats; ``"zip"``,
    ``"xlsx"``, ``"pptx"``, ``"ole"``, ``"image"`` or ``"rtf"`` for known
    unsupported ones; ``None`` for anything else (plain text or unknown
    binary data).
    """
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "ppt/presentation.xml" in names:
            return "pptx"
        return "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    if data.startswith(b"{\\rtf"):
        return "rtf"
    head = data[:2048]
    for bom, enc in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom) :].decode(enc, errors="ignore").encode("ascii", errors="ignore")
            break
    else:
        head = head.removeprefix(codecs.BOM_UTF8)
    return "html" if _HTML_START.match(head) else None


# --------------------------------------------------------------------------- text and HTML


def _read_markup_or_text(data: bytes, name: str, suffix: str, sniffed_html: bool) -> tuple[str, str, str | None]:
    """Text or HTML: decode, then extract an HTML page's main text."""
    if not sniffed_html and len(data) > 4 * MAX_TEXT_CHARS:
        raise InputError(
            f"{name}: too large for a report ({len(data) / 1e6:.1f} MB of text; the limit is {MAX_TEXT_CHARS:,} "
            "characters, reports have 10-200 KB); split it into one file per report or remove it"
        )
    maybe_html = sniffed_html or suffix not in _TEXT_SUFFIXES
    try:
        text = decode_bytes(data, name, declared=_declared_charset(data) if maybe_html else None)
    except InputError:
        if suffix in _CLAIMED:
            raise InputError(
                f"{name}: {_CLAIMED[suffix]} nor text; the file is damaged or misnamed; download or export it again"
            ) from None
        raise
    if sniffed_html or (maybe_html and _HTML_TAG.search(text[:20000])):
        body, title = _html_main_text(text, name)
        return body, "html", title
    return text, "text", None


_CLAIMED = {
    ".pdf": "not a PDF (no %PDF- header)",
    ".docx": "not a Word .docx file (not a ZIP archive with word/document.xml)",
}
_HTML_TAG = re.compile(r"<(?:html|head|body|div|p|br|span|table|meta|title|article)\b", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)|<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_\-.]+)""",
    re.IGNORECASE,
)


def _declared_charset(data: bytes) -> str | None:
    m = _META_CHARSET.search(data[:8192])
    if not m:
        return None
    label = (m.group(1) or m.group(2)).decode("ascii", errors="ignore")
    try:
        enc = codecs.lookup(label).name
    except LookupError:
        return None
    # Chinese sites often declare a Western single-byte charset that decodes anything: detect instead.
    return None if enc in ("ascii", "cp1252", "latin-1") or enc.startswith("iso8859") else enc


def _html_main_text(html: str, name: str) -> tuple[str, str | None]:
    """The main article text of an HTML page and its title, via trafilatura."""
    try:
        import trafilatura
    except ImportError as exc:  # a part of the install is missing: say which and how to add it
        raise InputError(_html_import_error(name, exc)) from None

    # lxml refuses str input that still carries an XML encoding declaration.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    tree = _html_tree(html, name)
    with _quiet("trafilatura", "htmldate", "courlan", "justext", "readability"):
        text = trafilatura.extract(
            tree,
            favor_recall=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            deduplicate=False,
        )
        if not text or not text.strip():
            # No article found: fall back to all visible text; the cleaner drops page furniture.
            text = trafilatura.baseline(tree)[1]
        meta = trafilatura.extract_metadata(tree)
    title = meta.title.strip() if meta is not None and meta.title else None
    lines: list[str] = []
    for line in (text or "").split("\n"):
        if _TABLE_ROW.match(line):  # trafilatura writes table rows as "| a | b |"
            lines.extend(_row_lines([c.strip() for c in line.strip().strip("|").split(" | ")]))
        else:
            lines.append(line)
    return "\n".join(lines), title or None


#: lxml's limit on element nesting with ``huge_tree`` (libxml2's XML_PARSE_HUGE); 256 without it.
MAX_HTML_DEPTH = 2048
# Container and inline tags removed from a page nested deeper than MAX_HTML_DEPTH (blocks become line breaks).
_BLOCK_TAGS = re.compile(r"</?(?:div|section|article|main|center|aside|header|footer|nav|blockquote)\b[^>]*>",
                         re.IGNORECASE)
_INLINE_TAGS = re.compile(r"</?(?:span|font|a|b|i|u|em|strong|small|big|sub|sup|label|abbr|ins|del|s)\b[^>]*>",
                          re.IGNORECASE)


def _html_tree(html: str, name: str) -> Any:
    """The page parsed by lxml with ``huge_tree`` (elements nested up to :data:`MAX_HTML_DEPTH` deep).

    trafilatura's own parser stops at 256 levels and silently drops everything deeper, so the tree
    is parsed here and handed to it. A page nested deeper still is flattened (container tags become
    line breaks, inline tags go) and parsed again; if even that is too deep, the page is refused
    rather than read in part.
    """
    from lxml import html as lxml_html

    def parse(markup: str) -> tuple[Any, bool]:
        parser = lxml_html.HTMLParser(huge_tree=True, collect_ids=False, default_doctype=False, encoding="utf-8",
                                      remove_comments=True, remove_pis=True)
        try:
            tree = lxml_html.fromstring(markup.encode("utf-8", "surrogatepass"), parser=parser)
        except Exception as exc:  # lxml raises ParserError on a page without any element
            raise InputError(f"{name}: no text found in the HTML page ({_brief(exc)}); re-export the report or "
                             "remove it") from exc
        too_deep = any("Excessive depth" in entry.message for entry in parser.error_log)
        return tree, too_deep

    tree, too_deep = parse(html)
    if too_deep:
        tree, too_deep = parse(_INLINE_TAGS.sub("", _BLOCK_TAGS.sub("<br>", html)))
    if too_deep:
        raise InputError(
            f"{name}: HTML page nested more than {MAX_HTML_DEPTH:,} elements deep, whose text cannot all be "
            "read; save the page's text as .txt"
        )
    return tree


def _html_import_error(name: str, exc: ImportError) -> str:
    # lxml >= 5.2 raises a bare ImportError (no .name) naming lxml_html_clean when that package is missing.
    if exc.name == "lxml_html_clean" or "lxml_html_clean" in str(exc):
        return f"{name}: reading HTML needs lxml_html_clean; pip install 'lxml_html_clean'"
    missing = exc.name or str(exc).splitlines()[0]
    return f"{name}: reading HTML needs {missing}, which is not installed; reinstall simkit (pip install -e .)"


_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_KEY_CELL = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff\s/]{0,10}[:：]$")


def _row_lines(cells: list[str]) -> list[str]:
    """One table row as lines: ``key：`` cells paired with the value after them, other cells tab-joined.

    Information-disclosure tables (``索 引 号： | QZ… | 发布日期： | 2024-01-30``) become one
    ``key：value`` line per pair, so the cleaner finds them as metadata.
    """
    cells = [c for c in cells if c]
    out: list[str] = []
    plain: list[str] = []
    i = 0
    while i < len(cells):
        if _KEY_CELL.match(cells[i]) and i + 1 < len(cells) and not _KEY_CELL.match(cells[i + 1]):
            out.append(cells[i] + cells[i + 1])
            i += 2
        else:
            plain.append(cells[i])
            i += 1
    return (["\t".join(plain)] if plain else []) + out


# --------------------------------------------------------------------------- decoding

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
_PLAUSIBLE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef\u2010-\u2027\u00b7\x20-\x7e\s]")


def _decode_error(name: str, what: str) -> InputError:
    return InputError(f"{name}: {what}; save it as UTF-8 or GBK text (.txt) or remove it")


def _binary_error(name: str) -> InputError:
    return InputError(f"{name}: not a text report (binary data); convert it to UTF-8 text (.txt) or remove it")


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    return len(_CONTROL.findall(text)) > max(2, len(text) // 200)


def _gb(encoding: str) -> str:
    """Map every GBK-family label to GB18030, its superset."""
    enc = codecs.lookup(encoding).name.replace("-", "_")
    return "gb18030" if enc in _GB_FAMILY or enc.startswith("gb") else encoding


def _detect(data: bytes) -> str | None:
    """Decode bytes that are not UTF-8, preferring GB18030 for Chinese encodings."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    candidates: list[str] = []
    if best is not None and best.encoding:
        candidates.append(_gb(best.encoding))
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


def decode_bytes(data: bytes, name: str, *, declared: str | None = None) -> str:
    """Decode a text file's bytes; ``name`` is used in error messages.

    A BOM wins; then the ``declared`` encoding (an HTML page's charset) if the
    bytes decode with it; then UTF-8; then detection. The GBK family always
    decodes as GB18030. Raises :class:`InputError` for binary or undecodable
    data.
    """
    text: str | None = None
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                raise _decode_error(name, f"invalid {enc} text") from exc
            break
    if text is None and declared is not None:
        try:
            text = data.decode(_gb(declared))
        except (UnicodeDecodeError, LookupError):
            text = None  # pages often declare the wrong charset: detect instead
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
    return normalize_newlines(text)


def normalize_newlines(text: str) -> str:
    """``\r\n``, ``\r`` and Unicode line/paragraph separators → ``\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\u2028\u2029\x0b\x0c\x85]", "\n", text)


# --------------------------------------------------------------------------- PDF

_PDF_OCR_HINT = "run OCR first or skip with --skip-bad"


def _read_pdf(data: bytes, name: str) -> tuple[str, str | None]:
    """The text layer of a PDF, pages joined by newlines, and its metadata title."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    if b"%%EOF" not in data[-2048:]:
        raise InputError(f"{name}: truncated PDF (no %%EOF marker at the end); download or export it again")
    try:
        with _quiet("pypdf"):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise InputError(f"{name}: password-protected PDF; remove the password (print it to a new PDF)")
            if len(reader.pages) == 0:
                raise InputError(f"{name}: damaged PDF (no pages); download or export it again")
            pages = [page.extract_text() or "" for page in reader.pages]
            title = _pdf_title(reader)
    except InputError:
        raise
    except (DependencyError, FileNotDecryptedError) as exc:
        raise InputError(
            f"{name}: encrypted PDF that cannot be opened ({_brief(exc)}); save an unencrypted copy"
        ) from exc
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise InputError(f"{name}: damaged PDF ({_brief(exc)}); download or export it again") from exc
    text = "\n".join(pages)
    visible = re.sub(r"\s+", "", text)
    if len(visible) < MIN_PDF_TEXT_CHARS:
        raise InputError(f"{name}: no text layer (scanned PDF?); {_PDF_OCR_HINT}")
    if len(_PLAUSIBLE.findall(visible)) < 0.5 * len(visible):
        raise InputError(
            f"{name}: the PDF's text layer cannot be decoded (fonts without Unicode mapping); {_PDF_OCR_HINT}"
        )
    return text, title


def _pdf_title(reader: object) -> str | None:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = meta.title if meta is not None else None
    except Exception:  # broken info dictionaries are common and harmless
        return None
    if not title:
        return None
    return str(title).strip() or None


# --------------------------------------------------------------------------- DOCX


def _read_docx(data: bytes, name: str) -> tuple[str, str | None]:
    """Body paragraphs and table rows of a .docx in document order, and its title."""
    import docx
    from docx.table import Table

    _check_unpacked(data, name)
    try:
        with _quiet("docx"):
            document = docx.Document(io.BytesIO(data))
            lines: list[str] = []
            for block in document.iter_inner_content():
                if isinstance(block, Table):
                    lines.extend(_table_rows(block))
                else:
                    lines.append(block.text)
            title = (document.core_properties.title or "").strip() or None
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors… on damaged files
        raise InputError(f"{name}: damaged Word file ({_brief(exc)}); save it again as .docx or as .txt") from exc
    return "\n".join(lines), title


_UNPACK_CHUNK = 1024 * 1024


def _check_unpacked(data: bytes, name: str) -> None:
    """Refuse a ZIP archive whose members unpack to more than :data:`MAX_UNPACKED_BYTES`.

    The sizes the archive declares are checked first (nothing is unpacked when they are too
    large); then every member is unpacked in 1 MiB chunks, counted and dropped, so that an
    archive that understates its sizes is stopped at the limit as well (and damaged members,
    whose checksums fail, are found before python-docx reads them).
    """
    limit = MAX_UNPACKED_BYTES

    def too_large(size: int, declared: bool) -> InputError:
        amount = f"{size / 2**20:,.0f} MiB" if declared else f"more than {limit // 2**20} MiB"
        return InputError(
            f"{name}: Word file unpacks to {amount}, over the limit of {limit // 2**20} MiB (a ZIP bomb?); "
            "save it again as .docx without large pictures, or as .txt"
        )

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            if declared > limit:
                raise too_large(declared, True)
            unpacked = 0
            for member in members:
                if member.is_dir():
                    continue
                with archive.open(member) as stream:
                    while chunk := stream.read(_UNPACK_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > limit:
                            raise too_large(unpacked, False)
    except InputError:
        raise
    except Exception as exc:  # BadZipFile (bad checksum), RuntimeError (encrypted), NotImplementedError, zlib.error…
        raise InputError(f"{name}: damaged Word file ({_brief(exc)}); save it again as .docx or as .txt") from exc


def _table_rows(table: object) -> Iterator[str]:
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        yield from _row_lines(cells)


# --------------------------------------------------------------------------- helpers


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence library warnings and log records below ERROR while reading one file."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _brief(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
