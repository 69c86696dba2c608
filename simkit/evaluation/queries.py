"""Retrieval quality on a labeled query set, at the level users judge: regions and their evidence.

Query file format (a JSON list)::

    {"id": str, "lang": "zh"|"en", "query": str,
     "relevant": [{"region": str, "grade": 1|2, "evidence": [str, …]}],
     "hard_negatives": [{"region": str, "evidence": [str, …]}]}   # optional

Metrics per query, averaged per language and overall:
``ndcg`` region nDCG@k with grades as gains; ``recall_grade2`` share of grade-2
regions in the top k; ``single_top1`` for queries with exactly one relevant
region, whether it ranks first; ``evidence`` share of relevant regions found in
the top k whose top paragraph contains one of their evidence strings (compared
after NFKC and whitespace removal, since reports differ in punctuation width and
PDF spacing); ``hard_negative_violations`` hard-negative passages that are the
top paragraph of a region ranked above every relevant region.

:func:`evaluate_similar` judges query by example (``index.similar``) on the same labels:
for each grade-2 region of a query, the first indexed paragraph holding its evidence is a
source, and the query's other labelled regions are what should come back.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simkit.errors import InputError


def normalize_for_match(text: str) -> str:
    """Fold punctuation width and drop all whitespace, for evidence matching."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def load_queries(path: Path) -> list[dict[str, Any]]:
    """Read a labeled query file; a malformed one is an :class:`InputError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON query file ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(q, dict) and "query" in q for q in data):
        raise InputError(f"{path}: expected a JSON list of {{id, lang, query, relevant}} objects")
    return data


@dataclass
class QueryScore:
    id: str
    lang: str
    ndcg: float
    recall_grade2: float
    single_top1: bool | None
    evidence_hits: int
    evidence_total: int
    hard_negative_violations: int
    ranked_regions: list[str]


@dataclass
class EvalResult:
    k: int
    mode: str = "hybrid"
    include_boilerplate: bool = False
    queries: list[QueryScore] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ndcg(ranked: list[str], grades: dict[str, int], k: int) -> float:
    dcg = sum(grades.get(region, 0) / math.log2(i + 2) for i, region in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def score_query(query: dict[str, Any], result: Any, k: int) -> QueryScore:
    """Score one query's search result against its labels."""
    ranked = [r.region for r in result.regions]
    top_text = {r.region: normalize_for_match(r.hits[0].text) if r.hits else "" for r in result.regions}
    relevant = query.get("relevant", [])
    grades = {r["region"]: int(r["grade"]) for r in relevant}
    grade2 = [r for r, g in grades.items() if g == 2]
    recall = sum(1 for r in grade2 if r in ranked[:k]) / len(grade2) if grade2 else 1.0
    single = ranked[:1] == [relevant[0]["region"]] if len(relevant) == 1 else None
    evidence_hits = evidence_total = 0
    for r in relevant:
        if r["region"] in ranked[:k]:
            evidence_total += 1
            if any(normalize_for_match(e) in top_text[r["region"]] for e in r.get("evidence", [])):
                evidence_hits += 1
    best_relevant = min((ranked.index(r) for r in grades if r in ranked), default=len(ranked))
    violations = 0
    for negative in query.get("hard_negatives", []) or []:
        region = negative["region"]
        if region in ranked and ranked.index(region) < best_relevant and any(
            normalize_for_match(e) in top_text[region] for e in negative.get("evidence", [])
        ):
            violations += 1
    return QueryScore(query.get("id", ""), query.get("lang", "?"), round(_ndcg(ranked, grades, k), 4),
                      round(recall, 4), single, evidence_hits, evidence_total, violations, ranked)


def summarize(scores: list[QueryScore]) -> dict[str, Any]:
    singles = [s.single_top1 for s in scores if s.single_top1 is not None]
    evidence_total = sum(s.evidence_total for s in scores)
    n = len(scores) or 1
    return {
        "queries": len(scores),
        "ndcg": round(sum(s.ndcg for s in scores) / n, 4),
        "recall_grade2": round(sum(s.recall_grade2 for s in scores) / n, 4),
        "single_top1": round(sum(singles) / len(singles), 4) if singles else None,
        "evidence": round(sum(s.evidence_hits for s in scores) / evidence_total, 4) if evidence_total else 0.0,
        "hard_negative_violations": sum(s.hard_negative_violations for s in scores),
    }


def summarize_by_language(scores: list[QueryScore]) -> dict[str, dict[str, Any]]:
    """:func:`summarize` per language and over all queries (``"all"``)."""
    summary = {lang: summarize([s for s in scores if s.lang == lang]) for lang in sorted({s.lang for s in scores})}
    summary["all"] = summarize(scores)
    return summary


def evaluate(index: Any, queries: list[dict[str, Any]], *, k: int = 5, mode: str | None = None,
             include_boilerplate: bool = False, settings: Any = None) -> EvalResult:
    """Run every query through ``index.search`` (in ``mode``, with ``settings``: a
    :class:`~simkit.search.settings.SearchSettings`, None for the shipped ones) and score it."""
    from simkit.search.engine import DEFAULT_MODE

    report = EvalResult(k=k, mode=mode or DEFAULT_MODE, include_boilerplate=include_boilerplate)
    for query in queries:
        result = index.search(query["query"], k=k, mode=mode, include_boilerplate=include_boilerplate,
                              settings=settings)
        report.queries.append(score_query(query, result, k))
    report.summary = summarize_by_language(report.queries)
    return report


@dataclass
class SimilarEvalResult:
    """Query by example on a labeled set: each grade-2 evidence paragraph as the source."""

    k: int
    mode: str
    sources: int = 0
    ndcg: float = 0.0
    top1_relevant: float = 0.0
    evidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_similar(index: Any, queries: list[dict[str, Any]], *, k: int = 4, mode: str | None = None,
                     include_boilerplate: bool = False) -> SimilarEvalResult:
    """Run ``index.similar`` from the first indexed paragraph holding each grade-2 region's evidence.

    Scores the other regions the query labels (the source's own region is excluded): region
    nDCG@k with their grades, whether the first region is one of them, and the share of returned
    grade-2 regions whose top paragraph holds their evidence. A source whose evidence no indexed
    paragraph holds, or whose query labels no other region, is skipped. Sources are indexed units
    (measures or whole paragraphs), never a parent paragraph standing for its measures.
    """
    from simkit.search.engine import DEFAULT_MODE

    rows = index.store.units_at(range(int(index.manifest.counts["vectors"])))
    texts = [(normalize_for_match(u.text), u) for u in rows.values()]
    ndcgs: list[float] = []
    top1: list[bool] = []
    evidence_hits = evidence_total = 0
    for query in queries:
        relevant = {r["region"]: r for r in query.get("relevant", [])}
        for region, label in relevant.items():
            others = {r: int(x["grade"]) for r, x in relevant.items() if r != region}
            if int(label["grade"]) != 2 or not others:
                continue
            wanted = [normalize_for_match(e) for e in label.get("evidence", [])]
            source = next((u for text, u in texts if u.region == region and any(e in text for e in wanted)), None)
            if source is None:
                continue
            result = index.similar(source.id, k=k, mode=mode, include_boilerplate=include_boilerplate)
            ranked = [r.region for r in result.regions]
            ndcgs.append(_ndcg(ranked, others, k))
            top1.append(bool(ranked) and ranked[0] in others)
            for r in result.regions:
                if others.get(r.region) == 2 and r.hits:
                    evidence_total += 1
                    top_text = normalize_for_match(r.hits[0].text)
                    evidence_hits += any(normalize_for_match(e) in top_text for e in relevant[r.region]["evidence"])
    n = len(ndcgs) or 1
    return SimilarEvalResult(k, mode or DEFAULT_MODE, len(ndcgs), round(sum(ndcgs) / n, 4), round(sum(top1) / n, 4),
                         round(evidence_hits / evidence_total, 4) if evidence_total else 0.0)
