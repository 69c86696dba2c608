"""Cross-validated retrieval figures: the search constants chosen on some labelled queries, judged on others.

A labelled query set is split into ``folds`` groups (queries that share a ``topic``, such as a Chinese query
and its English twin, stay in one group, and each fold gets both languages). For each fold, every candidate
:class:`~simkit.search.settings.SearchSettings` of a grid is scored on the other folds, the best one (by
mean utility: nDCG@k + the share of the query's regions whose top unit holds the evidence + single-region
first, where the query has one region) is kept, and the fold's queries are scored with it. The held-out
figures pool those scores, so no query is ever scored with constants chosen on it. The same is done for
dense mode alone (its one constant, ``dense_evidence_sentence``, over the grid's evidence mixes); lexical
mode has no constant.

Each candidate is run once per query: for a Chinese query the cross-lingual constants (latent terms,
dictionary translation) cannot change the result, and for a cross-lingual one (English;
:func:`simkit.search.engine.crosslingual_query`) the BM25 weight cannot, so settings that differ only there
share one search.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from simkit.errors import QueryError
from simkit.evaluation.queries import QueryScore, score_query, summarize_by_language
from simkit.search.engine import crosslingual_query
from simkit.search.settings import DEFAULT_SETTINGS, SearchSettings

GRID: dict[str, tuple[Any, ...]] = {
    "rrf_k": (20, 60),  # the shipped value of each constant is in its list
    "lexical_weight": (1.0, 2.0, 3.0),
    "latent_weight": (0.0, 1.0),
    "evidence_sentence": (0.5, 0.75),
    "evidence_lexical_weight": (1.0, 2.0, 4.0),
    "evidence_lexical": ("unit", "sentence"),
    "latent_evidence": (False, True),
    "translation_weight": (0.0, 1.0, 2.0),
    "translation_evidence": (False, True),
    "translation_alternatives": ("best", "words"),
}
"""The candidate values of each constant; the grid is their product, the shipped defaults included.

Left out after earlier grids never chose them in any fold (docs/method/cross-validation.md): an
``evidence_sentence`` of 0.25, a ``region_support`` above 0 and ``translation_fallback``; and
``problem_units_last``, which every fold chose (True, the default)."""

LEXICAL_ONLY = ("lexical_weight",)
"""Constants that act only on a lexical query (Chinese; :func:`~simkit.search.engine.crosslingual_query` false)."""
CROSSLINGUAL_ONLY = ("latent_weight", "latent_evidence", "translation_weight", "translation_evidence",
                     "translation_alternatives", "translation_fallback")
"""Constants that act only on a cross-lingual query (English; :func:`~simkit.search.engine.crosslingual_query`)."""


def candidate_settings(grid: dict[str, Sequence[Any]] | None = None) -> list[SearchSettings]:
    """Every combination of ``grid``'s values (default: :data:`GRID`), the shipped defaults first."""
    grid = GRID if grid is None else grid
    names = list(grid)
    candidates = [DEFAULT_SETTINGS]
    for values in itertools.product(*(grid[name] for name in names)):
        settings = replace(DEFAULT_SETTINGS, **dict(zip(names, values)))
        if settings != DEFAULT_SETTINGS:
            candidates.append(settings)
    return candidates


def assign_folds(queries: Sequence[dict[str, Any]], folds: int) -> list[int]:
    """Each query's fold: topic groups dealt round-robin in a fixed pseudo-random order, by language mix."""
    groups: dict[str, list[int]] = {}
    for i, query in enumerate(queries):
        groups.setdefault(str(query.get("topic") or query.get("id") or i), []).append(i)

    def order(topic: str) -> tuple[str, str]:
        langs = "+".join(sorted({str(queries[i].get("lang", "?")) for i in groups[topic]}))
        return langs, hashlib.sha256(topic.encode("utf-8")).hexdigest()

    fold_of = [0] * len(queries)
    for n, topic in enumerate(sorted(groups, key=order)):
        for i in groups[topic]:
            fold_of[i] = n % folds
    return fold_of


def utility(score: QueryScore) -> float:
    """What a fold's choice maximises for one query: nDCG, evidence share and single-region first."""
    value = score.ndcg
    if score.evidence_total:
        value += score.evidence_hits / score.evidence_total
    if score.single_top1 is not None:
        value += float(score.single_top1)
    return value


@dataclass
class FoldChoice:
    fold: int
    queries: int
    mode: str
    settings: dict[str, Any]
    train_utility: float


@dataclass
class CrossValidation:
    """Held-out-fold figures per mode: ``summary[mode][lang]``, as
    :func:`simkit.evaluation.queries.summarize_by_language` gives them."""

    k: int
    folds: int
    candidates: int
    include_boilerplate: bool = False
    summary: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    default: dict[str, dict[str, Any]] = field(default_factory=dict)
    chosen: dict[str, Any] = field(default_factory=dict)
    choices: list[FoldChoice] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _effective(settings: SearchSettings, lexical_query: bool) -> SearchSettings:
    """``settings`` with the constants that cannot act on this kind of query reset (one search per class)."""
    unused = CROSSLINGUAL_ONLY if lexical_query else LEXICAL_ONLY
    return replace(settings, **{name: getattr(DEFAULT_SETTINGS, name) for name in unused})


def _choose(scores: dict[SearchSettings, list[QueryScore]], train: list[int]) -> tuple[SearchSettings, float]:
    """Each constant's value with the best mean utility on the ``train`` queries, averaged over every
    candidate that has it (the grid's marginal means; earlier values win ties), and that setting's
    utility on ``train``.

    Marginal means rather than the single best candidate: with a few dozen training queries the best
    of hundreds of combinations wins partly by chance (on the dev queries its held-out figures fell
    below the marginal choice's; docs/method/cross-validation.md).
    """
    value_of = {s: sum(utility(per_query[i]) for i in train) / max(len(train), 1) for s, per_query in scores.items()}
    chosen: dict[str, Any] = {}
    for name in (f.name for f in fields(SearchSettings)):
        by_value: dict[Any, list[float]] = {}
        for settings, value in value_of.items():
            by_value.setdefault(getattr(settings, name), []).append(value)
        if len(by_value) > 1:  # max keeps the first of equal means: the value the grid lists first
            chosen[name] = max(by_value, key=lambda v: round(sum(by_value[v]) / len(by_value[v]), 9))
    best = replace(DEFAULT_SETTINGS, **chosen)
    if best not in scores:  # the grid is a product, so this only happens with a hand-made candidate list
        best = max(value_of, key=value_of.__getitem__)
    return best, value_of[best]


@dataclass
class CandidateScores:
    """Every query's score under every candidate: hybrid per candidate, dense per evidence mix, lexical once."""

    hybrid: dict[SearchSettings, list[QueryScore]]
    dense: dict[SearchSettings, list[QueryScore]]
    lexical: list[QueryScore]


def score_candidates(index: Any, queries: Sequence[dict[str, Any]], candidates: Sequence[SearchSettings], *,
                     k: int = 5, include_boilerplate: bool = False,
                     progress: Callable[[str, int], Callable[[int], None]] | None = None) -> CandidateScores:
    """Run every query under every candidate (one search per distinct effective setting) and score it.

    ``progress(label, total)`` gives the function called with 1 after each search."""
    lexical_query = [not crosslingual_query(index.lexical, q["query"]) for q in queries]
    dense_candidates = list(dict.fromkeys(replace(DEFAULT_SETTINGS, dense_evidence_sentence=s.evidence_sentence)
                                          for s in candidates))
    plans = [list(dict.fromkeys(_effective(s, t) for s in candidates)) for t in lexical_query]
    total = sum(len(p) for p in plans) + len(queries) * (len(dense_candidates) + 1)
    advance = progress("searches", total) if progress is not None else None

    def run(query: dict[str, Any], mode: str, settings: SearchSettings) -> QueryScore:
        result = index.search(query["query"], k=k, mode=mode, include_boilerplate=include_boilerplate,
                              settings=settings)
        if advance is not None:
            advance(1)
        return score_query(query, result, k)

    hybrid: dict[SearchSettings, list[QueryScore]] = {s: [] for s in candidates}
    for i, query in enumerate(queries):
        by_effective = {e: run(query, "hybrid", e) for e in plans[i]}
        for settings in candidates:
            hybrid[settings].append(by_effective[_effective(settings, lexical_query[i])])
    dense = {s: [run(q, "dense", s) for q in queries] for s in dense_candidates}
    lexical = [run(q, "lexical", DEFAULT_SETTINGS) for q in queries]
    return CandidateScores(hybrid, dense, lexical)


def cross_validate(index: Any, queries: Sequence[dict[str, Any]], *, folds: int = 5, k: int = 5,
                   candidates: Sequence[SearchSettings] | None = None, include_boilerplate: bool = False,
                   progress: Callable[[str, int], Callable[[int], None]] | None = None) -> CrossValidation:
    """Held-out-fold figures of hybrid and dense search with constants chosen on the other folds.

    ``index`` is an open :class:`~simkit.api.SimkitIndex`; ``candidates`` default to
    :func:`candidate_settings`. ``progress`` as in :func:`score_candidates`.
    """
    queries = list(queries)
    if folds < 2 or folds > len(queries):
        raise QueryError(f"--folds must be between 2 and the number of queries ({len(queries)}); got {folds}")
    candidates = list(candidates or candidate_settings())
    fold_of = assign_folds(queries, folds)
    if len(set(fold_of)) < folds:
        raise QueryError(f"--folds {folds}: the queries have only {len(set(fold_of))} topics to deal out; "
                         "use fewer folds")
    scored = score_candidates(index, queries, candidates, k=k, include_boilerplate=include_boilerplate,
                              progress=progress)
    hybrid, dense, lexical = scored.hybrid, scored.dense, scored.lexical

    report = CrossValidation(k=k, folds=folds, candidates=len(candidates), include_boilerplate=include_boilerplate)
    held: dict[str, list[QueryScore | None]] = {"hybrid": [None] * len(queries), "dense": [None] * len(queries)}
    for fold in range(folds):
        test = [i for i, f in enumerate(fold_of) if f == fold]
        train = [i for i, f in enumerate(fold_of) if f != fold]
        for mode, scores in (("hybrid", hybrid), ("dense", dense)):
            choice, value = _choose(scores, train)
            report.choices.append(FoldChoice(fold, len(test), mode, choice.to_dict(), round(value, 4)))
            for i in test:
                held[mode][i] = scores[choice][i]
    report.summary = {mode: summarize_by_language([s for s in held[mode] if s is not None]) for mode in held}
    report.summary["lexical"] = summarize_by_language(lexical)
    report.default = summarize_by_language(hybrid[DEFAULT_SETTINGS])
    everything = list(range(len(queries)))
    report.chosen = replace(_choose(hybrid, everything)[0],
                            dense_evidence_sentence=_choose(dense, everything)[0].dense_evidence_sentence).to_dict()
    report.queries = [{"id": q.get("id", ""), "lang": q.get("lang", "?"), "fold": fold_of[i]}
                      for i, q in enumerate(queries)]
    return report
