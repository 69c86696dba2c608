"""Split a cleaned report into outline units, cut packed paragraphs into measures and tag section roles.

**Outline.** Markers, in any nesting order the report uses: ``一、``, ``(一)`` /
``（一）``, ``1.`` / ``1．`` / ``1、``, ``(1)`` / ``（1）`` and ``①``. A marker starts
a unit at the start of a line, or inside a line (reports flattened to one
line) when it follows whitespace or sentence-final punctuation and continues
the numbering (``(二)`` after ``(一)``, or a new ``(一)``), so that
``《…(2021-2025年)》`` or ``第(一)项`` never split. Half- and full-width
punctuation are treated alike everywhere.

**Measures.** An outline paragraph of at least 80 characters that packs several
measures is cut into measure units; the paragraph itself is kept as a
``"parent"`` record (context only, not indexed). Cut points, strongest
structure first (only one kind is used per paragraph):

1. enumeration runs after a sentence or clause mark (or at the start):
   ``一是…二是…三是…``, else inline ``(1)…(2)…`` / ``①…②…``, else ``1、…2、…``;
   a run must count 1, 2, … (a restart at 1 is allowed) and have at least two
   items. The lead before the first item (``(一)坚持思想引领。`` or a topic
   sentence) is attached to the first measure when under 40 characters or
   when it is a lead-in ending in a colon under 100 characters (``…主要表现在：``),
   and is a measure of its own otherwise. Items under 15 characters are merged into
   the next item (the last one into the previous);
2. otherwise ``；`` / ``;`` between two clauses of at least 15 characters each
   (so ``A；B；C`` lists of short items inside one sentence stay whole), with
   pieces merged forward until each has at least 40 characters.

A paragraph left with fewer than two measures stays ``"paragraph"``. Measures
exactly tile the parent: their texts, whitespace aside, concatenate to the
parent's text.

**Roles** (``role``), from the outline: ``"overview"`` before the first
heading; otherwise the strongest of the roles of the unit's headings,
``"plan"`` (下一步, 今后, 明年, 工作安排/计划/思路/打算/设想, or a year after
the report year with 工作/安排/任务/…) > ``"problem"`` (存在…问题/不足/短板/差距, or a heading
ending in 问题/不足/…, unless it says 解决/补齐/整治/… them) >
``"leadership"`` (第一责任人, 主要负责人履行) > ``"measure"`` (the default; a
heading naming both problems and plans counts as ``"problem"``). A paragraph
that is not marker-led and opens with a plan phrase (``下一步，…``, ``2022年，我市
将…`` for a later year) or a problem phrase (``…也存在一些短板和弱项``,
``同时也要看到…不足``) starts an implicit section with that role, moving only
forward (work done → problems → plans; never from plans back to problems): it replaces
the outline path (so the tail after ``十、…`` is not filed under ``十、…``) when
the current section is about work done, or is nested under a problems/plans
heading; its section label is the paragraph's lead clause. The report year is
the first ``20xx年`` of the first unit.

Each :class:`~simkit.reading.records.Paragraph` has:

- ``section``: the outline path, ``" > "``-joined, e.g.
  ``二、聚焦全面履职… > (一)提升政务服务效能``. A unit that starts with a
  marker adds its short title (``(一)坚持思想引领`` for ``(一)坚持思想引领。召开…``)
  and keeps its whole text. Text before the first heading (the preamble) has
  section ``""``. Measures have their parent's section.
- ``kind``: ``"heading"`` for a marker with a short title and nothing else,
  ``"fragment"`` for short non-heading units (under 15 characters) and short
  lead-in lines (up to 20 characters) ending in a colon, ``"paragraph"``,
  ``"parent"`` and ``"measure"`` as above.
- ``id``: ``f"{document_id}:{sha1(section + '\\n' + text)[:10]}"``, with
  ``-2``, ``-3``… for exact repeats within one document (a parent keeps the id
  its paragraph would have had); measures are ``f"{parent_id}/m{n}"``. Ids
  depend only on a unit's section and text (and exact repeats before it), so
  they are stable across re-parses and survive edits elsewhere in the report.
- ``parent_id``: the parent's id for measures, ``None`` otherwise.
- ``start``/``end``: ``text[start:end] == paragraph.text``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from simkit.reading.records import Paragraph

__all__ = ["embedding_text", "measure_spans", "segment", "split_long"]

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


def _title(unit: str, marker_end: int) -> str:
    """The whole title of a marker-led unit: its text up to the first sentence end, marker excluded."""
    body = unit[marker_end:].strip()
    m = _FIRST_SENT_END.search(body)
    return re.sub(r"\s+", " ", body[: m.start()] if m else body).strip()


def _label(unit: str, marker_end: int) -> str:
    """The short title a marker-led unit contributes to the section path."""
    marker = unit[:marker_end].strip()
    title = _title(unit, marker_end)
    if len(title) > _TITLE_CHARS:
        clause = re.split(r"[，,：:]", title, maxsplit=1)[0]
        title = clause if len(clause) <= _TITLE_CHARS else title[:30] + "…"
    return marker + title


def _is_pure_heading(unit: str, marker_end: int) -> bool:
    body = re.sub(f"[{_SENT_END}]+$", "", unit[marker_end:].strip())
    return bool(body) and len(unit) <= _HEADING_CHARS and not _HAS_SENT_END.search(body)


def _chars(text: str) -> int:
    """Length without whitespace: what all length thresholds here count."""
    return len(text) - sum(1 for c in text if c.isspace())


def _kind_of_plain(unit: str) -> str:
    chars = _chars(unit)
    if chars < _FRAGMENT_CHARS or (chars <= 20 and unit.rstrip().endswith(("：", ":"))):
        return "fragment"
    return "paragraph"


def _paragraph_id(document_id: str, section: str, text: str) -> str:
    digest = hashlib.sha1(f"{section}\n{text}".encode()).hexdigest()[:10]
    return f"{document_id}:{digest}"


# --------------------------------------------------------------------------- measures

_PARENT_MIN = 80  # shorter paragraphs are never cut
_LEAD_MIN = 40  # a lead at least this long is a measure of its own…
_LEAD_INTRO_MAX = 100  # …unless it ends in a colon ("…主要表现在：") and is shorter than this
_ITEM_MIN = 15  # enumeration items (and clauses around a ；) shorter than this are merged
_MEASURE_MIN = 40  # ；-separated pieces are merged until this long
_RUN_MARKER = re.compile(
    r"(?P<shi>[一二三四五六七八九十]{1,3})是"
    r"|[（(](?P<paren>\d{1,2})[）)]"
    r"|(?P<circled>[①-⑳])"
    r"|(?P<dot>\d{1,2})[、.．](?!\d)"
)
_RUN_PRIORITY = ("shi", "paren", "circled", "dot")
_RUN_BOUNDARY = "。！？；;：:，,!?"
_CLOSERS = "”’」』）)》"
_OPENERS = "“‘「『（(《"
_SEMI = "；;"
_CLAUSE_STOP = "。！？!?；;：:"
_CLAUSE_STOP_RE = re.compile(f"[{_CLAUSE_STOP}]")


def _run_boundary(text: str, pos: int) -> bool:
    """Whether an enumeration marker at ``pos`` starts an item: at the start, after punctuation or space."""
    if pos == 0:
        return True
    prev = text[pos - 1]
    if prev.isspace() or prev in _RUN_BOUNDARY:
        return True
    return prev in _CLOSERS and pos >= 2 and text[pos - 2] in _RUN_BOUNDARY


def _run_cuts(text: str) -> list[int]:
    """Item starts of the strongest enumeration run type in ``text`` (一是…, (1)…, ①…, 1、…), or []."""
    found: dict[str, list[list[int]]] = {}
    for m in _RUN_MARKER.finditer(text):
        kind = m.lastgroup or ""
        if not _run_boundary(text, m.start()):
            continue
        value = m.group(kind)
        if kind == "shi":
            number = _cn_value(value)
        elif kind == "circled":
            number = ord(value) - ord("①") + 1
        else:
            number = int(value)
        runs = found.setdefault(kind, [])
        if number == 1:
            runs.append([m.start()])
        elif runs and number == len(runs[-1]) + 1:
            runs[-1].append(m.start())
    for kind in _RUN_PRIORITY:
        cuts = [pos for run in found.get(kind, []) if len(run) >= 2 for pos in run]
        if cuts:
            return cuts
    return []


def _semicolon_cuts(text: str) -> list[int]:
    """Cut positions just after each top-level ；/; that has a clause of 15+ characters on both sides."""
    cuts: list[int] = []
    depth = 0
    clause_start = 0
    for i, c in enumerate(text):
        if c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth = max(0, depth - 1)
        elif c in _CLAUSE_STOP and depth == 0:
            if c in _SEMI:
                nxt = _CLAUSE_STOP_RE.search(text, i + 1)
                right_end = nxt.end() if nxt else len(text)
                if _chars(text[clause_start:i]) >= _ITEM_MIN and _chars(text[i + 1 : right_end]) >= _ITEM_MIN:
                    cuts.append(i + 1)
            clause_start = i + 1
    return cuts


def _merge_forward(pieces: list[tuple[int, int]], text: str, min_chars: int) -> list[tuple[int, int]]:
    """Merge each piece shorter than ``min_chars`` into the next one (a short last piece into the previous)."""
    groups: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for a, b in pieces:
        current = (current[0], b) if current else (a, b)
        if _chars(text[current[0] : current[1]]) >= min_chars:
            groups.append(current)
            current = None
    if current is not None:
        if groups:
            groups[-1] = (groups[-1][0], current[1])
        else:
            groups.append(current)
    return groups


def measure_spans(text: str) -> list[tuple[int, int]]:
    """Spans (relative to ``text``, whitespace-stripped) of the measures packed in a paragraph, or [] if none.

    See the module docstring for the rules; the spans tile ``text`` apart from whitespace.
    """
    if _chars(text) < _PARENT_MIN:
        return []
    run = _run_cuts(text)
    if run:
        pieces = _merge_forward(list(zip(run, [*run[1:], len(text)])), text, _ITEM_MIN)
        lead = text[: run[0]].strip()
        if _chars(lead) >= _LEAD_MIN and not (lead.endswith(("：", ":")) and _chars(lead) < _LEAD_INTRO_MAX):
            # a long lead is a measure of its own, unless it is a short lead-in ending in a colon
            pieces.insert(0, (0, run[0]))
        else:  # a short lead (or none) goes with the first item
            pieces[0] = (0, pieces[0][1])
    else:
        cuts = _semicolon_cuts(text)
        bounds = [0, *cuts]
        pieces = _merge_forward(list(zip(bounds, [*bounds[1:], len(text)])), text, _MEASURE_MIN)
    spans = [_strip_span(text, a, b) for a, b in pieces]
    spans = [(a, b) for a, b in spans if a < b]
    return spans if len(spans) >= 2 else []


# --------------------------------------------------------------------------- roles

_PROBLEM_WORDS = "问题|不足|短板|差距|弱项|困难|薄弱环节|短处"
_PROBLEM_HEAD = re.compile(
    rf"存在[^，,。；;]{{0,8}}({_PROBLEM_WORDS})|({_PROBLEM_WORDS})([和与及、]?({_PROBLEM_WORDS}))?(之处)?$"
)
_PROBLEM_GUARD = re.compile(r"解决|化解|补齐|补强|补短|聚焦|破解|整治|治理|整改|回应|弥补|针对|着力|克服|排查")
_PLAN_HEAD = re.compile(r"下一步|下步|今后|明年|工作(安排|计划|思路|打算|设想|展望)|努力方向|工作谋划")
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_PLAN_YEAR_HEAD = re.compile(r"工作|安排|计划|打算|思路|任务|目标|重点")
_LEADERSHIP_HEAD = re.compile(r"第一责任人|主要负责人履行")
_PLAN_OPENER = re.compile(r"(下一步|下步|今后|接下来|新的一年|明年)")
_PLAN_YEAR_OPENER = re.compile(r"((?:19|20)\d{2})年[^。；;！？]{0,20}?[将要]")
_PROBLEM_OPENER = re.compile(
    rf"([也还仍尚但]|仍然|依然)[^。，,；;]{{0,10}}(存在|面临|有)[^。；;]{{0,20}}({_PROBLEM_WORDS}|薄弱|瓶颈)"
    rf"|看到[^。；;]{{0,40}}({_PROBLEM_WORDS}|薄弱|瓶颈)"
)
_ROLE_RANK = {"plan": 3, "problem": 2, "leadership": 1}


def _report_year(first_unit: str) -> int | None:
    m = _YEAR.search(first_unit)
    return int(m.group(1)) if m else None


def _heading_role(title: str, report_year: int | None) -> str | None:
    """The role a heading's title gives the units under it, or None (work done)."""
    title = re.sub(rf"[{_SENT_END}：:，,\s]+$", "", title)
    if _PROBLEM_HEAD.search(title) and not _PROBLEM_GUARD.search(title):
        return "problem"  # also "存在问题及下一步打算": plan openers inside switch to plan
    if _PLAN_HEAD.search(title):
        return "plan"
    later_year = report_year is not None and any(int(y) > report_year for y in _YEAR.findall(title))
    if later_year and _PLAN_YEAR_HEAD.search(title):
        return "plan"
    if _LEADERSHIP_HEAD.search(title):
        return "leadership"
    return None


def _opener_role(text: str, report_year: int | None) -> str | None:
    """The role a paragraph announces by its opening ("下一步，…", "2022年，我市将…", "…也存在…不足"), or None."""
    if _PLAN_OPENER.match(text):
        return "plan"
    m = _PLAN_YEAR_OPENER.match(text)
    if m and report_year is not None and int(m.group(1)) > report_year:
        return "plan"
    first = _CLAUSE_STOP_RE.split(text, maxsplit=1)[0]
    if _PROBLEM_OPENER.search(first) and not _PROBLEM_GUARD.search(first):
        return "problem"
    return None


def _lead_label(text: str, limit: int = 30) -> str:
    """A paragraph's lead clause(s), at most ``limit`` characters, as the label of an implicit section."""
    first = _CLAUSE_STOP_RE.split(text, maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first
    label = ""
    for clause in re.findall(r"[^，,]+[，,]?", first):
        if len(label) + len(clause.rstrip("，,")) > limit:
            break
        label += clause
    label = label.rstrip("，,")
    return label or first[:limit] + "…"


@dataclass
class _Level:
    """One entry of the outline path: its marker type, label, role, and whether a paragraph opener made it."""

    type: str
    label: str
    role: str | None
    implicit: bool = False


def _role_of(stack: list[_Level]) -> str:
    """The strongest role on the path, counted from the last implicit (opener) level if any."""
    start = max((i for i, level in enumerate(stack) if level.implicit), default=0)
    roles = [level.role for level in stack[start:] if level.role]
    return max(roles, key=_ROLE_RANK.__getitem__) if roles else "measure"


# --------------------------------------------------------------------------- segment


def _outline_spans(text: str) -> list[tuple[int, int]]:
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
    return spans


def segment(text: str, document_id: str) -> list[Paragraph]:
    """Split cleaned report text into outline units, parents and measures, with sections, roles, offsets, ids."""
    spans = _outline_spans(text)
    report_year = _report_year(text[spans[0][0] : spans[0][1]]) if spans else None
    stack: list[_Level] = []
    seen: dict[str, int] = {}
    out: list[Paragraph] = []

    def emit(start: int, end: int, kind: str) -> None:
        unit = text[start:end]
        section = _SECTION_SEP.join(level.label for level in stack)
        role = _role_of(stack) if stack else "overview"
        pid = _paragraph_id(document_id, section, unit)
        seen[pid] = seen.get(pid, 0) + 1
        if seen[pid] > 1:
            pid = f"{pid}-{seen[pid]}"
        measures = measure_spans(unit) if kind == "paragraph" else []
        out.append(Paragraph(pid, document_id, section, unit, start, end, "parent" if measures else kind, role))
        for n, (a, b) in enumerate(measures, 1):
            out.append(
                Paragraph(f"{pid}/m{n}", document_id, section, unit[a:b], start + a, start + b, "measure", role, pid)
            )

    def open_implicit(unit: str) -> None:
        """Start an implicit section if a plain paragraph announces problems or plans."""
        role = _opener_role(unit, report_year)
        current = _role_of(stack) if stack else None
        if role is None or current is None or role == current or (current, role) == ("plan", "problem"):
            return  # openers only move forward: work done -> problems -> plans
        level = _Level("opener", _lead_label(unit), role, implicit=True)
        first_implicit = next((i for i, lv in enumerate(stack) if lv.implicit), None)
        if first_implicit is not None:
            level.type = stack[first_implicit].type
            del stack[first_implicit:]
        elif _role_of(stack) in ("measure", "leadership"):
            level.type = stack[0].type
            stack.clear()
        stack.append(level)

    for start, end in spans:
        found = _marker_at(text, start)
        if found is None:
            kind = _kind_of_plain(text[start:end])
            if kind == "paragraph":
                open_implicit(text[start:end])
            emit(start, end, kind)
            continue
        kind, _, marker_end = found
        split = _title_split(text, start, end, marker_end)
        head_end = split if split is not None else end
        unit = text[start:head_end]
        types = [level.type for level in stack]
        if kind in types:
            del stack[types.index(kind) :]
        rel_marker_end = marker_end - start
        role = _heading_role(_title(unit, rel_marker_end), report_year)
        stack.append(_Level(kind, _label(unit, rel_marker_end), role))
        if split is not None:
            emit(start, split, "heading")
            rest_start, rest_end = _strip_span(text, split, end)
            rest_kind = _kind_of_plain(text[rest_start:rest_end])
            if rest_kind == "paragraph":
                open_implicit(text[rest_start:rest_end])
            emit(rest_start, rest_end, rest_kind)
        elif _is_pure_heading(unit, rel_marker_end):
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


def split_text(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[tuple[int, int]]:
    """(start, end) offsets of pieces of ``text`` within ``max_tokens`` each, cut as :func:`split_long`
    cuts: ``[(0, len(text))]`` when the whole text fits, else pieces stripped of surrounding space."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if count_tokens(text) <= max_tokens:
        return [(0, len(text))]
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
    stripped = [_strip_span(text, a, b) for a, b in spans]
    return [(a, b) for a, b in stripped if a < b]


def split_long(paragraph: Paragraph, count_tokens: Callable[[str], int], max_tokens: int) -> list[Paragraph]:
    """Split a paragraph over ``max_tokens`` into pieces within the limit; never truncates.

    Cuts preferably at sentence ends (。！？；), else at clause marks (，：),
    and between characters only inside a clause that alone is too long; it
    uses as few pieces as possible and keeps them about even (no short tail).
    Works on any unit, ``"paragraph"`` or ``"measure"``: pieces keep its kind,
    section, role, boilerplate flag and ``parent_id`` (``None`` for pieces of a
    paragraph, the parent paragraph for pieces of a measure), so ``parent_id``
    always names a ``"parent"`` record; the unit a piece was cut from is named
    by its id, the unit's id plus ``.1``, ``.2``… Offsets point into the same
    cleaned text. A unit within the limit is returned unchanged, as a
    one-item list.
    """
    text = paragraph.text
    spans = split_text(text, count_tokens, max_tokens)
    if spans == [(0, len(text))]:
        return [paragraph]
    pieces: list[Paragraph] = []
    for a, b in spans:
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


_LEADING_MARKER = re.compile(
    r"^\s*(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十百\d]+[）)]|\d{1,2}[.．、]|[①-⑳])\s*"
)


def embedding_text(unit: Paragraph, context: str = "section", levels: int = 2) -> str:
    """The text embedded for a unit: with ``context="section"``, its nearest outline titles first.

    A measure such as "推行20个高频事项…" says little about its topic on its own; its
    section titles ("依法全面履行政府职能 / 持续推动‘放管服’改革工作") say it.
    Outline numbering is dropped; the shown text and offsets are unchanged.
    """
    if context != "section" or not unit.section:
        return unit.text
    titles = [_LEADING_MARKER.sub("", part).strip() for part in unit.section.split(" > ")][-levels:]
    titles = [t for t in titles if t and t not in unit.text[: len(t) + 8]]
    return f"{' / '.join(titles)}：{unit.text}" if titles else unit.text
