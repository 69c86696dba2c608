"""Flag generic formula passages (套话) that recur across nearly every region's report.

Reports open and close with the same political formulas ("以习近平新时代中国特色社会
主义思想为指导", "现将有关情况报告如下", "为…高质量发展提供坚强法治保障"). They
match any query about "studying Xi Jinping Thought on the rule of law" and are never
the answer to "which regions did something similar". They are recognised by phrase
statistics over the corpus, not by a list of sentences:

1. Every report's text is cut into sentences (at 。；！？ and line ends).
2. For each character trigram of Chinese text, count the **regions** whose reports
   contain it (regions, not reports: a region's own name recurs in all its reports).
   A trigram found in at least 40 % of the regions (and at least two) is *frequent*;
   in at least 60 %, *common*; in at least 80 %, *universal*.
3. A passage's formula score is the share of its Chinese characters covered by
   common trigrams — a character covered only by frequent ones counts half, so that a
   formula worded a little differently in each region ("筑牢法治基础", "有待进一步提升")
   still scores — where each digit counts as three uncovered characters (numbers make a
   passage concrete); years such as ``2023年`` or ``2021—2025年`` are neutral.
   Clauses (cut at ，；。：) of at least six characters scoring at least 0.7 are
   **formula spans**, adjacent ones merged: shown as such, and available for
   down-weighting. Clauses rather than sentences, because one long sentence often wraps
   a concrete measure in formulas. Inside units whose section role is overview,
   problems, leadership or plan — where formulas are the norm rather than the exception —
   the cut is 0.4, and a clause there is also a span when it is a *template*: no digits,
   and it closes with a phrase of 4–8 characters that closes digit-free clauses in at least
   60 % of the regions, whatever its middle ("为…提供坚强的法治保障", "…有待提升"). A
   《title》 scoring at least 0.9 (《法治政府建设实施纲要（2021—2025年）》) is a span of its
   own even inside a concrete clause. What each of these rules and cuts changed on the
   dev labels is measured in docs/method/boilerplate.md.
   One more form is a formula whatever its statistics: a **list of kinds** — a clause
   without numbers (digits, or words such as 三项) holding at least three 、-separated
   items in a row, of three or more characters, that share their head, the last two
   characters ("强化党内监督、人大监督、政协监督、民主监督、司法监督等…", "打造法治生态、
   创新生态、人才生态"). Such a list names the parts of
   a national formula, each region picking its own subset and wording, so trigrams shared
   across regions cannot see it; the rule catches what the statistics miss
   (measured in docs/method/boilerplate.md). A list inside a 《title》 or
   “quoted name” does not count, and a list with a number in its clause ("…4个建设工程")
   is concrete. For the stricter test below, a quoted name or 《title》 that is not itself
   made of universal trigrams also counts as concrete text.
   **Recurrent 5-grams** carry formula at corpus scale, where a formula is in a third of the
   reports rather than in 60 %: a character 5-gram (inside one clause) found in at least 25 % of
   the regions and in at least five is *recurrent*. A clause whose Chinese characters are at least
   half covered by recurrent 5-grams (digits counting against as above) is a formula span too.
   Five characters in a row are a phrase rather than a word, so a 5-gram shared by a quarter of
   the regions is a recurring wording, not vocabulary; the share, the cuts and the least count were
   chosen by cross-validation on a generated corpus (``simkit.evaluation.formula_corpus``,
   docs/method/boilerplate.md). With five regions, five means all of them.
4. A unit (paragraph or measure) is **boilerplate** — left out of search by default —
   when at least 60 % of its characters lie in sentences scoring at least 0.5 on
   *universal* trigrams, or at least 0.6 on recurrent 5-grams. Exclusion uses the stricter
   trigram set because hiding a real measure costs more than showing a formula (what it
   flags: docs/method/boilerplate.md).
   A unit mixing a formula with a concrete measure ("自觉接受人大监督和政协民主监督，
   办理人大代表建议66件…") keeps its formula span marked but is itself not boilerplate.

Needs at least three regions; with fewer, nothing is flagged. Frequent, common and
universal trigrams, common closing phrases and recurrent 5-grams are persisted with the index
(``phrases.json``) so that a single file can be judged against the corpus later
(``simkit parse FILE --index DIR``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from simkit.errors import IndexLoadError
from simkit.reading.records import UNIT_KINDS, ParsedReport

GRAM = 3
MIN_REGIONS = 3
COMMON_SHARE = 0.6
UNIVERSAL_SHARE = 0.8
FREQUENT_SHARE = 0.4
FREQUENT_WEIGHT = 0.5
SENTENCE_CUT = 0.5
UNIT_CUT = 0.6
FORMAT_VERSION = 3
RECUR_GRAM = 5
RECUR_SHARE = 0.25
RECUR_MIN_REGIONS = 5
RECUR_CUT = 0.5
RECUR_UNIT_CUT = 0.6

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SENTENCE_END = re.compile(r"[。；;！？!?\n]")
_CLAUSE_END = re.compile(r"[，,。；;！？!?：:\n]")
CLAUSE_CUT = 0.7
CLAUSE_CUT_FORMAT_1 = 0.6
CLAUSE_CUT_FORMULAIC_ROLE = 0.4
FORMULAIC_ROLES = ("overview", "problem", "leadership", "plan")
MIN_CLAUSE_HAN = 6
ENDING_CHARS = (4, 8)
_YEARS = re.compile(r"(?:19|20)\d{2}(?:\s*[—\-–~至到]\s*(?:19|20)?\d{2,4})?\s*年度?")
_DIGIT = re.compile(r"\d")
_TITLE = re.compile(r"《[^》]{1,60}》")
TITLE_CUT = 0.9
_NAMED = re.compile(r"“[^”]{1,30}”|《[^》]{1,60}》")
_LIST = re.compile(r"[\u4e00-\u9fff]{3,16}(?:、[\u4e00-\u9fff]{3,16}){2,}")
_LIST_TAIL = "等和及与"
_COUNTED = re.compile(r"[一二两三四五六七八九十百千万]+[项个条件次家名批类]")  # 三项, 五个: a number in words
_QUOTED = re.compile(r"《[^》]{1,200}》|“[^”]{1,200}”|「[^」]{1,200}」|\"[^\"]{1,200}\"")
HEAD_CHARS = 2
MIN_KINDS = 3


@dataclass(frozen=True)
class PhraseStats:
    """Which character trigrams are frequent, common and universal across the regions of a corpus."""

    regions: int
    common: frozenset[str]
    universal: frozenset[str]
    gram: int = GRAM
    frequent: frozenset[str] = frozenset()
    endings: frozenset[str] = frozenset()
    format_version: int = FORMAT_VERSION
    recurrent: frozenset[str] = frozenset()
    """Character 5-grams found in at least ``RECUR_SHARE`` of the regions and at least ``RECUR_MIN_REGIONS``."""

    @property
    def clause_cut(self) -> float:
        """The cut for formula clauses outside formulaic sections (format 1 statistics, without
        frequent trigrams, were judged at 0.6)."""
        return CLAUSE_CUT if self.format_version >= 2 else CLAUSE_CUT_FORMAT_1

    @property
    def usable(self) -> bool:
        return self.regions >= MIN_REGIONS

    def to_json(self) -> dict[str, object]:
        return {"format_version": self.format_version, "gram": self.gram, "regions": self.regions,
                "common_share": COMMON_SHARE, "universal_share": UNIVERSAL_SHARE,
                "frequent_share": FREQUENT_SHARE, "common": sorted(self.common),
                "universal": sorted(self.universal), "frequent": sorted(self.frequent),
                "endings": sorted(self.endings), "recur_gram": RECUR_GRAM, "recur_share": RECUR_SHARE,
                "recur_min_regions": RECUR_MIN_REGIONS, "recurrent": sorted(self.recurrent)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> PhraseStats:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = int(data.get("format_version", 1))
        if found > FORMAT_VERSION:
            raise IndexLoadError(f"{path}: boilerplate statistics of format {found}, newer than this simkit reads "
                                 f"({FORMAT_VERSION}); upgrade simkit or rebuild the index")
        # Format 1 had no frequent trigrams or endings: it still loads, judged by common trigrams alone;
        # format 2 had no recurrent 5-grams: judged without them.
        return cls(int(data["regions"]), frozenset(data["common"]), frozenset(data["universal"]), int(data["gram"]),
                   frozenset(data.get("frequent", ())), frozenset(data.get("endings", ())), found,
                   frozenset(data.get("recurrent", ())))


def _han_only(text: str) -> str:
    return "".join(_HAN.findall(text))


def sentence_spans(text: str, pattern: re.Pattern[str] = _SENTENCE_END) -> list[tuple[int, int]]:
    """Sentence (or, with ``_CLAUSE_END``, clause) boundaries as (start, end), ends including the punctuation."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in pattern.finditer(text):
        if text[start : match.end()].strip():
            spans.append((start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _trigrams(text: str, gram: int) -> set[str]:
    found: set[str] = set()
    for start, end in sentence_spans(text):
        han = _han_only(text[start:end])
        found.update(han[i : i + gram] for i in range(len(han) - gram + 1))
    return found


def _recur_grams(text: str) -> set[str]:
    """The 5-grams of every clause's Chinese text (clauses, so that no gram spans two of them)."""
    found: set[str] = set()
    for start, end in sentence_spans(text, _CLAUSE_END):
        han = _han_only(text[start:end])
        found.update(han[i : i + RECUR_GRAM] for i in range(len(han) - RECUR_GRAM + 1))
    return found


def _closing_phrases(clause: str) -> list[str]:
    """A clause's closing phrases (its last 4–8 Chinese characters, years left out); none if it has digits."""
    clause = _YEARS.sub("", clause)
    if _DIGIT.search(clause):
        return []
    han = _han_only(clause)
    return [han[-k:] for k in range(ENDING_CHARS[0], min(ENDING_CHARS[1], len(han) - 1) + 1)]


def _endings(text: str) -> set[str]:
    """The closing phrases of every clause of ``text``."""
    return {phrase for start, end in sentence_spans(text, _CLAUSE_END) for phrase in _closing_phrases(text[start:end])}


def _closes_with_formula(clause: str, stats: PhraseStats) -> bool:
    """Whether a clause without digits ends with a closing phrase common across regions."""
    return any(phrase in stats.endings for phrase in _closing_phrases(clause))


def phrase_stats(texts_by_region: Iterable[tuple[str, str]], *, gram: int = GRAM) -> PhraseStats:
    """Count, for each trigram, the regions whose texts contain it; keep the frequent ones.

    ``texts_by_region`` yields (region, text) pairs; several reports of one region
    count once.
    """
    # One region's phrases at a time go into the counts (and are then dropped), so memory grows with
    # the distinct phrases of the corpus, not with phrases × regions.
    texts_of: dict[str, list[str]] = {}
    for region, text in texts_by_region:
        texts_of.setdefault(region, []).append(text)
    counts: dict[str, int] = {}
    ending_counts: dict[str, int] = {}
    recur_counts: dict[str, int] = {}
    for texts in texts_of.values():
        grams: set[str] = set()
        endings: set[str] = set()
        long_grams: set[str] = set()
        for text in texts:
            grams.update(_trigrams(text, gram))
            endings.update(_endings(text))
            long_grams.update(_recur_grams(text))
        for found, into in ((grams, counts), (endings, ending_counts), (long_grams, recur_counts)):
            for phrase in found:
                into[phrase] = into.get(phrase, 0) + 1
    needed = {share: max(2, share * len(texts_of)) for share in (FREQUENT_SHARE, COMMON_SHARE, UNIVERSAL_SHARE)}

    def shared_by(share: float, counts: dict[str, int] = counts) -> frozenset[str]:
        return frozenset(g for g, c in counts.items() if c >= needed[share])

    recur_needed = max(RECUR_MIN_REGIONS, RECUR_SHARE * len(texts_of))
    recurrent = frozenset(g for g, c in recur_counts.items() if c >= recur_needed)
    return PhraseStats(len(texts_of), shared_by(COMMON_SHARE), shared_by(UNIVERSAL_SHARE), gram,
                       shared_by(FREQUENT_SHARE), shared_by(COMMON_SHARE, ending_counts), recurrent=recurrent)


def formula_score(sentence: str, stats: PhraseStats, *, universal: bool = False) -> float:
    """Share of a sentence's Chinese characters covered by common (or universal) trigrams.

    Without ``universal``, a character covered only by frequent trigrams counts half.
    Digits count against; years are neutral.
    """
    grams = stats.universal if universal else stats.common
    text = _YEARS.sub("", sentence)
    named = 0
    if universal:
        # A quoted programme or document title that is not itself universal ("《厦门市行政复议体制改革
        # 实施方案》") makes the sentence concrete; a universal one (《法治政府建设实施纲要》) does not.
        for match in _NAMED.finditer(text):
            inner = _han_only(match.group())
            if any(inner[i : i + stats.gram] not in grams for i in range(len(inner) - stats.gram + 1)):
                named += len(inner)
        text = _NAMED.sub("", text)
    han = _han_only(text)
    if len(han) < stats.gram:
        return 0.0
    covered = [0.0] * len(han)
    frequent = () if universal else stats.frequent
    width = stats.gram
    for i in range(len(han) - width + 1):
        gram = han[i : i + width]
        if gram in grams:
            covered[i : i + width] = [1.0] * width
        elif gram in frequent:
            for j in range(i, i + width):
                if covered[j] < FREQUENT_WEIGHT:
                    covered[j] = FREQUENT_WEIGHT
    return sum(covered) / (len(han) + named + 3 * len(_DIGIT.findall(text)))


def recurrence_score(sentence: str, stats: PhraseStats, *, concrete_names: bool = False) -> float:
    """Share of a passage's Chinese characters covered by recurrent 5-grams; digits count against (three
    uncovered characters each), years are neutral. With ``concrete_names``, a quoted name or 《title》 that
    is not itself wholly recurrent counts as uncovered text."""
    if not stats.recurrent:
        return 0.0
    text = _YEARS.sub("", sentence)
    named = 0
    if concrete_names:
        for match in _NAMED.finditer(text):
            inner = _han_only(match.group())
            if any(inner[i : i + RECUR_GRAM] not in stats.recurrent for i in range(len(inner) - RECUR_GRAM + 1)):
                named += len(inner)
        text = _NAMED.sub("", text)
    covered = 0.0
    digits = len(_DIGIT.findall(text))
    total = 0
    for start, end in sentence_spans(text, _CLAUSE_END):
        han = _han_only(text[start:end])
        total += len(han)
        marks = [False] * len(han)
        for i in range(len(han) - RECUR_GRAM + 1):
            if han[i : i + RECUR_GRAM] in stats.recurrent:
                marks[i : i + RECUR_GRAM] = [True] * RECUR_GRAM
        covered += sum(marks)
    if total < RECUR_GRAM:
        return 0.0
    return covered / (total + named + 3 * digits)


def _kind(item: str, *, last: bool) -> str:
    """What a list item is a kind of: its last two characters ("人大监督" → 监督). The list's last
    item may run on into the clause ("司法监督等监督方式协调配合"): there, a head followed by
    等/和/及/与 after at least one character of modifier is its kind."""
    if last:
        for at in range(1, len(item) - HEAD_CHARS):
            if item[at + HEAD_CHARS] in _LIST_TAIL:
                return item[at : at + HEAD_CHARS]
    return item[-HEAD_CHARS:]


def is_list_of_kinds(clause: str) -> bool:
    """Whether a clause without numbers lists at least three kinds of one thing in a row: items of
    three or more characters separated by 、 sharing their last two ("党内监督、人大监督、政协监督"),
    outside 《titles》 and quoted names. A number in words (三项, 五个) makes it concrete too."""
    clause = _QUOTED.sub("", _YEARS.sub("", clause))
    if _DIGIT.search(clause) or _COUNTED.search(clause):
        return False
    for match in _LIST.finditer(clause):
        items = match.group().split("、")
        run, previous = 0, ""
        for i, item in enumerate(items):
            kind = _kind(item, last=i == len(items) - 1)
            run = run + 1 if kind == previous else 1
            previous = kind
            if run >= MIN_KINDS:
                return True
    return False


def _without_quotes(text: str) -> str:
    """``text`` with every 《title》 and quoted name blanked out (same length, no Chinese left in them),
    so that a clause cut inside one ("《关于加强党内监督、人大监督、政协监督，推动…》") does not see its list."""
    return _QUOTED.sub(lambda m: "□" * len(m.group()), text)


def formula_spans(text: str, stats: PhraseStats, *, universal: bool = False,
                  formulaic: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Offsets of formula passages in ``text``.

    By default: clauses scoring at least 0.7 (0.4 for clauses starting inside one of the
    ``formulaic`` ranges), or at least 0.5 on recurrent 5-grams, or holding a list of kinds,
    adjacent ones merged, plus 《titles》 made of common trigrams (the formula spans).
    With ``universal``: whole sentences scoring at least 0.5 on universal trigrams or at least
    0.6 on recurrent 5-grams (the stricter test behind a unit's boilerplate flag).
    """
    if not stats.usable:
        return []
    if universal:
        return [(s, e) for s, e in sentence_spans(text)
                if formula_score(text[s:e], stats, universal=True) >= SENTENCE_CUT
                or recurrence_score(text[s:e], stats, concrete_names=True) >= RECUR_UNIT_CUT]
    merged: list[tuple[int, int]] = []
    unquoted = _without_quotes(text)
    for s, e in sentence_spans(text, _CLAUSE_END):
        in_formulaic = any(a <= s < b for a, b in formulaic)
        cut = CLAUSE_CUT_FORMULAIC_ROLE if in_formulaic else stats.clause_cut
        if len(_han_only(text[s:e])) < MIN_CLAUSE_HAN or (
                formula_score(text[s:e], stats) < cut
                and recurrence_score(text[s:e], stats) < RECUR_CUT
                and not (in_formulaic and _closes_with_formula(text[s:e], stats))
                and not is_list_of_kinds(unquoted[s:e])):
            continue
        if merged and not text[merged[-1][1] : s].strip():
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    # A 《title》 made of common trigrams (《法治政府建设实施纲要（2021—2025年）》) is a formula on its
    # own, even inside a clause that lists concrete documents.
    titles = [(m.start(), m.end()) for m in _TITLE.finditer(text)
              if len(_han_only(_YEARS.sub("", m.group()))) >= MIN_CLAUSE_HAN
              and formula_score(m.group(), stats) >= TITLE_CUT]
    return _union(merged, titles)


def _union(*span_lists: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(span for spans in span_lists for span in spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _covered_share(start: int, end: int, spans: Sequence[tuple[int, int]], text: str) -> float:
    total = sum(1 for ch in text[start:end] if not ch.isspace())
    if not total:
        return 0.0
    inside = 0
    for s, e in spans:
        lo, hi = max(s, start), min(e, end)
        if lo < hi:
            inside += sum(1 for ch in text[lo:hi] if not ch.isspace())
    return inside / total


def flag_report(parsed: ParsedReport, stats: PhraseStats) -> ParsedReport:
    """The report with formula spans recorded and its units' ``boilerplate`` flags set."""
    text = parsed.report.text
    strict = formula_spans(text, stats, universal=True)
    formulaic = [(u.start, u.end) for u in parsed.units if u.role in FORMULAIC_ROLES]
    spans = _union(formula_spans(text, stats, formulaic=formulaic), strict)
    paragraphs = [
        replace(p, boilerplate=p.kind in (*UNIT_KINDS, "parent")
                and _covered_share(p.start, p.end, strict, text) >= UNIT_CUT)
        for p in parsed.paragraphs
    ]
    return replace(parsed, paragraphs=paragraphs, boilerplate_spans=spans)


def flag_reports(reports: Sequence[ParsedReport], stats: PhraseStats | None = None) -> tuple[
        list[ParsedReport], PhraseStats]:
    """Flag formula passages in every report, with statistics from these reports unless given."""
    if stats is None:
        stats = phrase_stats((r.report.region or f"unknown:{r.report.id}", r.report.text) for r in reports)
    return [flag_report(r, stats) for r in reports], stats
