"""Split a cleaned report into paragraphs along its outline.

Outline markers, in any nesting order the report uses: ``一、``, ``(一)`` /
``（一）``, ``1.`` / ``1．`` / ``1、``, ``(1)`` / ``（1）`` and ``①``. A marker starts
a unit at the start of a line, or inside a line (reports flattened to one
line) when it follows whitespace or sentence-final punctuation and continues
the numbering (``(二)`` after ``(一)``, or a new ``(一)``), so that
``《…(2021-2025年)》`` or ``第(一)项`` never split.

Each :class:`~simkit.records.Paragraph` has:

- ``section``: the outline path, ``" > "``-joined, e.g.
  ``二、聚焦全面履职… > (一)提升政务服务效能``. A unit that starts with a
  marker adds its short title (``(一)坚持思想引领`` for ``(一)坚持思想引领。召开…``)
  and keeps its whole text. Text before the first heading (the preamble) has
  section ``""``.
- ``kind``: ``"heading"`` for a marker with a short title and nothing else,
  ``"fragment"`` for short non-heading units (under 15 characters) and short
  lead-in lines (up to 20 characters) ending in a colon, ``"paragraph"`` for the rest.
- ``id``: ``f"{document_id}:{sha1(section + '\\n' + text)[:10]}"``, with
  ``-2``, ``-3``… for exact repeats within one document.
- ``start``/``end``: ``text[start:end] == paragraph.text``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import replace

from simkit.records import Paragraph

__all__ = ["segment", "split_long"]

_CN_NUM = "一二三四五六七八九十百〇零"
_MARKER = re.compile(
    rf"(?P<cn>[{_CN_NUM}]+)、"
    rf"|[（(](?P<cn_paren>[{_CN_NUM}]+)[）)]"
    r"|(?P<num>\d{1,2})[.．、](?!\d)"
    r"|[（(](?P<num_paren>\d{1,2})[）)]"
    r"|(?P<circled>[①-⑳])"
)
_SENT_END = "。！？；!?;"
_HAS_SENT_END = re.compile(f"[{_SENT_END}]")
_FIRST_SENT_END = re.compile(f"[{_SENT_END}]")
_SECTION_SEP = " > "
_FRAGMENT_CHARS = 15
_HEADING_CHARS = 60
_TITLE_CHARS = 50


def _cn_value(s: str) -> int:
    digits = {c: i for i, c in enumerate("〇一二三四五六七八九")}
    digits["零"] = 0
    if "百" in s:
        hundreds, _, rest = s.partition("百")
        return digits.get(hundreds, 1) * 100 + (_cn_value(rest.lstrip("零")) if rest else 0)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (digits.get(tens, 1) if tens else 1) * 10 + (digits.get(ones, 0) if ones else 0)
    return digits.get(s[-1], 0) if s else 0


def _marker_at(text: str, pos: int) -> tuple[str, int, int] | None:
    """The marker starting at ``pos``: (type, number, end), or None."""
    m = _MARKER.match(text, pos)
    if m is None:
        return None
    kind = m.lastgroup or ""
    value = m.group(kind)
    number = int(value) if kind in ("num", "num_paren") else _cn_value(value)
    if kind == "circled":
        number = ord(value) - ord("①") + 1
    return kind, number, m.end()


def _at_boundary(line: str, pos: int) -> bool:
    """Whether an inline marker at ``pos`` follows whitespace or a sentence end (。！？, maybe quoted)."""
    prev = line[pos - 1]
    if prev.isspace() or prev in "。！？!?":
        return True
    return prev in '”’」』"' and pos >= 2 and line[pos - 2] in "。！？!?"


def _split_points(line: str, last: dict[str, int]) -> list[int]:
    """Positions in a line where an outline unit starts (always including 0)."""
    points = [0]
    first = _marker_at(line, 0)
    if first is not None:
        last[first[0]] = first[1]
    for m in _MARKER.finditer(line, 1):
        pos = m.start()
        if not _at_boundary(line, pos):
            continue
        found = _marker_at(line, pos)
        if found is None:
            continue
        kind, number, _ = found
        if number == 1 or number == last.get(kind, 0) + 1:
            last[kind] = number
            points.append(pos)
    return points


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _title_split(text: str, start: int, end: int, marker_end: int) -> int | None:
    """Where a space separates a heading title from its text ("二、存在的不足 2023年，…")."""
    pos = marker_end
    while pos < end and text[pos].isspace():
        pos += 1
    ws = next((i for i in range(pos, end) if text[i].isspace()), None)
    if ws is None:
        return None
    se = _FIRST_SENT_END.search(text, pos, end)
    if se is not None and se.start() < ws:
        return None
    title = text[pos:ws]
    rest = text[ws:end].lstrip()
    if not (4 <= len(title) <= _TITLE_CHARS) or len(rest) < 2:
        return None
    if re.match(r"[^\w“‘《（(【「]", rest) or not _HAS_SENT_END.search(rest):
        return None
    return ws


def _label(unit: str, marker_end: int) -> str:
    """The short title a marker-led unit contributes to the section path."""
    marker = unit[:marker_end].strip()
    body = unit[marker_end:].strip()
    m = _FIRST_SENT_END.search(body)
    title = body[: m.start()] if m else body
    if len(title) > _TITLE_CHARS:
        clause = re.split(r"[，,：:]", title, maxsplit=1)[0]
        title = clause if len(clause) <= _TITLE_CHARS else title[:30] + "…"
    return marker + re.sub(r"\s+", " ", title).strip()


def _is_pure_heading(unit: str, marker_end: int) -> bool:
    body = re.sub(f"[{_SENT_END}]+$", "", unit[marker_end:].strip())
    return bool(body) and len(unit) <= _HEADING_CHARS and not _HAS_SENT_END.search(body)


def _kind_of_plain(unit: str) -> str:
    chars = len(re.sub(r"\s+", "", unit))
    if chars < _FRAGMENT_CHARS or (chars <= 20 and unit.rstrip().endswith(("：", ":"))):
        return "fragment"
    return "paragraph"


def _paragraph_id(document_id: str, section: str, text: str) -> str:
    digest = hashlib.sha1(f"{section}\n{text}".encode()).hexdigest()[:10]
    return f"{document_id}:{digest}"


def segment(text: str, document_id: str) -> list[Paragraph]:
    """Split cleaned report text into outline units with sections, kinds, offsets and stable ids."""
    spans: list[tuple[int, int]] = []
    last: dict[str, int] = {}
    offset = 0
    for line in text.split("\n"):
        points = _split_points(line, last) + [len(line)]
        for a, b in zip(points, points[1:]):
            start, end = _strip_span(text, offset + a, offset + b)
            if start < end:
                spans.append((start, end))
        offset += len(line) + 1

    stack: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    out: list[Paragraph] = []

    def emit(start: int, end: int, kind: str) -> None:
        unit = text[start:end]
        section = _SECTION_SEP.join(label for _, label in stack)
        pid = _paragraph_id(document_id, section, unit)
        seen[pid] = seen.get(pid, 0) + 1
        if seen[pid] > 1:
            pid = f"{pid}-{seen[pid]}"
        out.append(Paragraph(pid, document_id, section, unit, start, end, kind))

    for start, end in spans:
        found = _marker_at(text, start)
        if found is None:
            emit(start, end, _kind_of_plain(text[start:end]))
            continue
        kind, _, marker_end = found
        split = _title_split(text, start, end, marker_end)
        head_end = split if split is not None else end
        unit = text[start:head_end]
        types = [t for t, _ in stack]
        if kind in types:
            del stack[types.index(kind) :]
        stack.append((kind, _label(unit, marker_end - start)))
        if split is not None:
            emit(start, split, "heading")
            rest_start, rest_end = _strip_span(text, split, end)
            emit(rest_start, rest_end, _kind_of_plain(text[rest_start:rest_end]))
        elif _is_pure_heading(unit, marker_end - start):
            emit(start, end, "heading")
        else:
            emit(start, end, "paragraph" if len(unit) >= _FRAGMENT_CHARS else "fragment")
    return out


# --------------------------------------------------------------------------- long paragraphs

_SENTENCE = re.compile(rf"[^{_SENT_END}]*[{_SENT_END}]+[”’」』）)\"]*|[^{_SENT_END}]+$")
_CLAUSE = re.compile(r"[^，,：:]*[，,：:]+[”’」』）)\"]*|[^，,：:]+$")
# How bad a cut after an atom is: at a sentence end, at a clause mark, between characters.
_SENTENCE_CUT, _CLAUSE_CUT, _HARD_CUT = 0, 1, 2


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in pattern.finditer(text[start:end]) if m.end() > m.start()]


def _atoms(text: str, count: Callable[[str], int], max_tokens: int) -> list[tuple[int, int, int]]:
    """Clauses of ``text`` (cut between characters where one is too long), each tagged with its cut quality."""
    atoms: list[tuple[int, int, int]] = []
    for s_start, s_end in _spans(text, 0, len(text), _SENTENCE):
        clauses = _spans(text, s_start, s_end, _CLAUSE) or [(s_start, s_end)]
        for i, (c_start, c_end) in enumerate(clauses):
            cut = _SENTENCE_CUT if i == len(clauses) - 1 else _CLAUSE_CUT
            if count(text[c_start:c_end]) <= max_tokens:
                atoms.append((c_start, c_end, cut))
                continue
            hard = _hard_cut(text, c_start, c_end, count, max_tokens)
            for j, (h_start, h_end) in enumerate(hard):
                atoms.append((h_start, h_end, cut if j == len(hard) - 1 else _HARD_CUT))
    return atoms


def _hard_cut(text: str, start: int, end: int, count: Callable[[str], int], max_tokens: int) -> list[tuple[int, int]]:
    """Cut at character positions into about equal pieces within ``max_tokens``."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        remaining = count(text[pos:end])
        if remaining <= max_tokens:
            out.append((pos, end))
            break
        share = pos + max(1, (end - pos) // math.ceil(remaining / max_tokens))
        lo, hi = pos + 1, end  # longest prefix within the limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[pos:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        cut = min(lo, max(share, pos + 1))
        out.append((pos, cut))
        pos = cut
    return out


def _group(sizes: list[int], cuts: list[int], max_tokens: int) -> list[int]:
    """Group consecutive atoms into as few pieces as possible, then as even and as clean as possible.

    Cost of a grouping: the sum of squared piece sizes plus a penalty for each
    piece that ends at a clause mark ((max/2)²) or between characters (max²).
    Returns the end index (exclusive) of each group. Sizes are treated as
    additive; the caller re-checks the real counts.
    """
    n = len(sizes)
    prefix = [0]
    for size in sizes:
        prefix.append(prefix[-1] + size)
    penalty = {_SENTENCE_CUT: 0, _CLAUSE_CUT: (max_tokens / 2) ** 2, _HARD_CUT: float(max_tokens) ** 2}
    best: list[tuple[float, float]] = [(0, 0)] + [(math.inf, math.inf)] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        end_cost = penalty[cuts[j - 1]] if j < n else 0
        for i in range(j - 1, -1, -1):
            size = prefix[j] - prefix[i]
            if size > max_tokens and i < j - 1:
                break
            prev = best[i]
            cand = (prev[0] + 1, prev[1] + size * size + end_cost)
            if cand < best[j]:
                best[j], back[j] = cand, i
    ends: list[int] = []
    j = n
    while j > 0:
        ends.append(j)
        j = back[j]
    return ends[::-1]


def split_long(paragraph: Paragraph, count_tokens: Callable[[str], int], max_tokens: int) -> list[Paragraph]:
    """Split a paragraph over ``max_tokens`` into pieces within the limit; never truncates.

    Cuts preferably at sentence ends (。！？；), else at clause marks (，：),
    and between characters only inside a clause that alone is too long; it
    uses as few pieces as possible and keeps them about even (no short tail).
    Pieces keep the section and kind, their offsets point into the same
    cleaned text, and their ids are the parent id plus ``.1``, ``.2``… A
    paragraph within the limit is returned unchanged, as a one-item list.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    text = paragraph.text
    if count_tokens(text) <= max_tokens:
        return [paragraph]
    atoms = _atoms(text, count_tokens, max_tokens)
    sizes = [count_tokens(text[a:b]) for a, b, _ in atoms]
    spans: list[tuple[int, int]] = []
    begin = 0
    for end in _group(sizes, [c for _, _, c in atoms], max_tokens):
        a, b = atoms[begin][0], atoms[end - 1][1]
        if count_tokens(text[a:b]) > max_tokens:  # counts were not additive: fall back to single atoms
            spans.extend((x, y) for x, y, _ in atoms[begin:end])
        else:
            spans.append((a, b))
        begin = end
    pieces: list[Paragraph] = []
    for a, b in spans:
        a, b = _strip_span(text, a, b)
        if a >= b:
            continue
        pieces.append(
            replace(
                paragraph,
                id=f"{paragraph.id}.{len(pieces) + 1}",
                text=text[a:b],
                start=paragraph.start + a,
                end=paragraph.start + b,
            )
        )
    return pieces
