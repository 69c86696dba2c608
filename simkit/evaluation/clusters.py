"""Clustering quality on labelled initiatives (used by ``simkit eval --initiatives``, ``scripts/eval_clusters.py``
and the tests).

Two grains are measured: ``unit`` (whole indexed paragraphs, each in at most one initiative: the method before
issue 19) and ``sentence`` (the sentences of those units, formula and pure statistics left out; a unit is in
every initiative one of its sentences is in, so it can belong to several).

- ``region_recall``: for each labelled initiative, the share of its regions found in the best-matching reported
  initiative (the one holding the most of them). A labelled region counts as found when **any** of its
  evidence-holding items is in that initiative: at the ``unit`` grain the units containing one of its evidence
  strings, at the ``sentence`` grain the kept sentences overlapping one. Mean over initiatives.
  ``match="unit"`` scores a sentence clustering at the unit grain instead: a region is found when any unit of
  an evidence string is a member (through any of its sentences), as the old unit-level measure did.
- ``best_cluster_units`` / ``best_cluster_regions``: mean size (items) and span (regions) of those
  best-matching initiatives (a method that lumps everything together would score high recall with huge
  clusters; these show it).
- ``boilerplate_initiatives``: labelled formula passages reported as an initiative: a reported initiative where
  items of ≥ 2 regions contain the passage and they make up at least half of its items (target: none).
  ``boilerplate_units_in_clusters`` counts such items in any initiative.
- ``orphaned``: share of items with a neighbour of another region above the close threshold that end up in
  no reported initiative (the "outlier bucket").
- ``median_regions``: the median number of regions a reported initiative spans.

Evidence strings are located after NFKC and whitespace removal, like ``simkit eval``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simkit.errors import InputError, QueryError
from simkit.evaluation.queries import normalize_for_match
from simkit.initiatives.graph import DEFAULT_K, DEFAULT_RESOLUTION, DEFAULT_STRICT, group_units, knn
from simkit.initiatives.units import SentenceTable, UnitTable


def _positions(text: str) -> tuple[str, list[int]]:
    """``text`` normalised for matching, and the original offset of each normalised character."""
    chars: list[str] = []
    where: list[int] = []
    for i, c in enumerate(text):
        for n in "".join(unicodedata.normalize("NFKC", c).split()):
            chars.append(n)
            where.append(i)
    return "".join(chars), where


def locate(table: UnitTable, region: str, evidence: list[str]) -> set[int]:
    """Indices of the table's items of ``region`` holding one of the evidence strings.

    Units: those containing the string. Sentences (a :class:`SentenceTable`): the kept sentences overlapping
    an occurrence of the string in their unit.
    """
    wanted = [normalize_for_match(e) for e in evidence]
    if not isinstance(table, SentenceTable):
        return {i for i, (r, t) in enumerate(zip(table.regions, table.texts))
                if r == region and any(w in normalize_for_match(t) for w in wanted)}
    found: set[int] = set()
    by_unit: dict[str, list[int]] = {}
    for i, (r, u) in enumerate(zip(table.regions, table.unit_ids)):
        if r == region:
            by_unit.setdefault(u, []).append(i)
    for unit, items in by_unit.items():
        normal, where = _positions(table.unit_texts[unit])
        for w in wanted:
            at = normal.find(w) if w else -1
            while at >= 0:
                start, end = where[at], where[at + len(w) - 1] + 1
                found.update(i for i in items if table.spans[i][0] < end and table.spans[i][1] > start)
                at = normal.find(w, at + 1)
    return found


def unit_members(table: UnitTable, region: str, evidence: list[str]) -> set[str]:
    """Ids of the units of ``region`` containing one of the evidence strings (any item of the table)."""
    wanted = [normalize_for_match(e) for e in evidence]
    texts = table.unit_texts if isinstance(table, SentenceTable) else dict(zip(table.ids, table.texts))
    regions = dict(zip(table.unit_ids, table.regions)) if isinstance(table, SentenceTable) else \
        dict(zip(table.ids, table.regions))
    return {u for u, t in texts.items() if regions.get(u) == region and any(w in normalize_for_match(t)
                                                                          for w in wanted)}


class EvidenceLocator:
    """Where labelled evidence lies in one table (:func:`locate`, :func:`unit_members`), each answer found once.

    Matching evidence strings against the table's texts does not depend on the clustering, and it was most of
    the time of scoring hundreds of candidate clusterings of one table (:func:`cross_validate_clusters`).
    """

    def __init__(self, table: UnitTable) -> None:
        self.table = table
        self._found: dict[tuple[str, str, tuple[str, ...]], set[Any]] = {}

    def keys(self, region: str, evidence: list[str], match: str = "item") -> set[Any]:
        """Item indices holding the evidence (``match="item"``), or with ``"unit"`` on a sentence table the ids
        of the units holding it."""
        key = (match, region, tuple(evidence))
        if key not in self._found:
            by_unit = match == "unit" and isinstance(self.table, SentenceTable)
            self._found[key] = (unit_members(self.table, region, evidence) if by_unit
                                else locate(self.table, region, evidence))
        return self._found[key]


@dataclass(frozen=True)
class Grouping:
    """A clustering of a table: its reported groups (item indices) and the constants that made it."""

    table: UnitTable
    groups: list[list[int]]
    threshold: float
    k: int
    quantile: float
    resolution: float
    min_regions: int
    seconds: float
    method: str = "besthit-leiden"
    strict: float = DEFAULT_STRICT
    overlap: int = 0
    attach: float | None = None

    @property
    def granularity(self) -> str:
        return "sentence" if isinstance(self.table, SentenceTable) else "unit"

    @property
    def params(self) -> dict[str, Any]:
        return {"granularity": self.granularity, "method": self.method, "k": self.k, "quantile": self.quantile,
                "strict": self.strict, "resolution": self.resolution, "overlap": self.overlap,
                "attach": self.attach, "min_regions": self.min_regions}


def grouping(table: UnitTable, *, method: str = "besthit-leiden", k: int, quantile: float,
             resolution: float = DEFAULT_RESOLUTION, min_regions: int = 2, strict: float = DEFAULT_STRICT,
             overlap: int = 0, attach: float | None = None) -> Grouping:
    """Cluster ``table`` and keep the groups spanning ``min_regions`` regions."""
    started = time.perf_counter()
    groups, tau = group_units(table, method=method, k=k, quantile=quantile, resolution=resolution, strict=strict,
                              overlap=overlap, attach=attach)
    seconds = time.perf_counter() - started
    reported = [g for g in groups if len({table.regions[i] for i in g}) >= min_regions]
    return Grouping(table, reported, tau, k, quantile, resolution, min_regions, seconds, method, strict, overlap,
                    attach)


def grouping_for(table: UnitTable, constants: dict[str, Any], *, k: int = DEFAULT_K) -> Grouping:
    """:func:`grouping` with the constants as :func:`candidate_constants` and :func:`shipped_constants` give them
    (their ``granularity`` is the table's)."""
    return grouping(table, k=k, **{name: value for name, value in constants.items() if name != "granularity"})


def recall_of(found: Grouping, labelled: list[dict[str, Any]], *, match: str = "item",
              locator: EvidenceLocator | None = None) -> dict[str, dict[str, Any]]:
    """Per labelled initiative: region recall of its best-matching group, that group's size and span.

    ``locator`` (for ``found.table``) remembers where the evidence lies across calls."""
    table = found.table
    if locator is None or locator.table is not table:
        locator = EvidenceLocator(table)
    clusters_of: dict[Any, set[int]] = {}
    for c, g in enumerate(found.groups):
        for i in g:
            key = table.unit_ids[i] if match == "unit" and isinstance(table, SentenceTable) else i
            clusters_of.setdefault(key, set()).add(c)
    result = {}
    for item in labelled:
        regions = {m["region"] for m in item["members"]}
        votes: dict[int, set[str]] = {}
        for m in item["members"]:
            for key in locator.keys(m["region"], m["evidence"], match):
                for c in clusters_of.get(key, ()):
                    votes.setdefault(c, set()).add(m["region"])
        best = max(sorted(votes), key=lambda c: (len(votes[c]), -len(found.groups[c])), default=None)
        result[item["id"]] = {
            "recall": len(votes[best]) / len(regions) if best is not None else 0.0,
            "units": len(found.groups[best]) if best is not None else 0,
            "regions": len({table.regions[i] for i in found.groups[best]}) if best is not None else 0,
        }
    return result


def measure(table: UnitTable, labelled: list[dict[str, Any]], boilerplate: list[dict[str, Any]], *,
            method: str = "besthit-leiden", k: int, quantile: float, min_regions: int = 2,
            resolution: float = DEFAULT_RESOLUTION, match: str = "item", strict: float = DEFAULT_STRICT,
            found: Grouping | None = None) -> dict[str, Any]:
    """Cluster ``table`` with one method and score it against labelled initiatives and boilerplate.

    ``table`` is a :class:`UnitTable` (the unit grain) or a :class:`SentenceTable`; ``match`` ``"unit"``
    scores a sentence clustering at the unit grain (see the module docstring). ``found`` reuses a clustering.
    """
    found = found or grouping(table, method=method, k=k, quantile=quantile, resolution=resolution,
                              min_regions=min_regions, strict=strict)
    reported = found.groups
    in_cluster = {i for g in reported for i in g}
    per = recall_of(found, labelled, match=match)

    bp_initiatives = []
    bp_units = 0
    for item in boilerplate:
        units = {i: m["region"] for m in item["occurrences"] for i in locate(table, m["region"], m["evidence"])}
        bp_units += sum(1 for i in units if i in in_cluster)
        for g in reported:
            inside = [i for i in g if i in units]
            if len({units[i] for i in inside}) >= 2 and len(inside) * 2 >= len(g):
                bp_initiatives.append(item["id"])
                break

    sims, nbrs = knn(table.vectors, k)
    regions = np.asarray(table.regions, dtype=object)
    cross = (sims >= found.threshold) & (regions[nbrs] != regions[:, None]) if len(table) > 1 else \
        np.zeros((len(table), 0), bool)
    clear = np.where(cross.any(axis=1))[0] if cross.size else np.zeros(0, np.int64)
    orphaned = sum(1 for i in clear.tolist() if i not in in_cluster) / max(1, len(clear))
    spans = sorted(len({table.regions[i] for i in g}) for g in reported)
    best = [p for p in per.values() if p["units"]]
    return {
        **found.params, "match": match, "threshold": round(found.threshold, 4),
        "region_recall": round(float(np.mean([p["recall"] for p in per.values()])) if per else 0.0, 3),
        "per_initiative": {key: round(p["recall"], 3) for key, p in per.items()},
        "best_cluster_units": round(float(np.mean([p["units"] for p in best])), 1) if best else 0,
        "best_cluster_regions": round(float(np.mean([p["regions"] for p in best])), 2) if best else 0,
        "boilerplate_initiatives": bp_initiatives, "boilerplate_units_in_clusters": bp_units,
        "orphaned": round(orphaned, 3), "clusters": len(reported),
        "clustered_units": sum(len(g) for g in reported), "units": len(table),
        "largest_cluster": max((len(g) for g in reported), default=0),
        "median_regions": float(np.median(spans)) if spans else 0.0,
        "regions": len(set(table.regions)), "seconds": round(found.seconds, 3),
    }


# --------------------------------------------------------------------------- constants chosen on folds

CLUSTER_GRID: dict[str, tuple[Any, ...]] = {
    "granularity": ("sentence", "unit"),
    "method": ("besthit-leiden", "rbh-leiden"),
    "quantile": (0.8, 0.9),
    "strict": (0.97, 0.99),
    "resolution": (0.5, 1.0, 2.0),
    "overlap": (0, 1, 2),
    "attach": (None, 0.9, 0.95),
    "min_regions": (2, 3),
}
"""The candidate constants of :func:`cross_validate_clusters`; ``strict`` only acts on ``rbh-leiden``."""


def candidate_constants(grid: dict[str, Sequence[Any]] | None = None) -> list[dict[str, Any]]:
    """Every distinct combination of ``grid`` (default :data:`CLUSTER_GRID`), in a fixed order."""
    grid = CLUSTER_GRID if grid is None else grid
    seen: list[dict[str, Any]] = []
    for values in itertools.product(*grid.values()):
        c = dict(zip(grid, values))
        if c["method"] != "rbh-leiden":
            c["strict"] = DEFAULT_STRICT
        if c not in seen:
            seen.append(c)
    return seen


def shipped_constants(granularity: str = "sentence") -> dict[str, Any]:
    """The constants ``simkit build`` clusters with at a grain (min_regions: the CLI's default, 2)."""
    from simkit.initiatives.clustering import SENTENCE_SETTINGS, UNIT_SETTINGS

    settings = SENTENCE_SETTINGS if granularity == "sentence" else UNIT_SETTINGS
    return {"granularity": granularity, "method": settings["method"], "quantile": settings["quantile"],
            "strict": settings["strict"], "resolution": settings["resolution"], "overlap": settings["overlap"],
            "attach": settings["attach"], "min_regions": 2}


@dataclass(frozen=True)
class InitiativeScore:
    """One labelled initiative against one clustering: region recall (evidence sentences or units), region
    precision (its found regions over the regions of the best-matching initiative) and their F1."""

    recall: float
    recall_unit_match: float
    precision: float

    @property
    def f1(self) -> float:
        r, p = self.recall, self.precision
        return 2 * r * p / (r + p) if r + p else 0.0


def score_initiatives(found: Grouping, labelled: list[dict[str, Any]], *,
                      locator: EvidenceLocator | None = None) -> dict[str, InitiativeScore]:
    """Each labelled initiative's :class:`InitiativeScore` against ``found`` (``locator``: as in :func:`recall_of`)."""
    items = recall_of(found, labelled, locator=locator)
    units = (recall_of(found, labelled, match="unit", locator=locator) if found.granularity == "sentence"
             else items)
    scores = {}
    for item in labelled:
        mine = items[item["id"]]
        regions = len({m["region"] for m in item["members"]})
        hit = mine["recall"] * regions
        scores[item["id"]] = InitiativeScore(mine["recall"], units[item["id"]]["recall"],
                                             hit / mine["regions"] if mine["regions"] else 0.0)
    return scores


def _summary(scores: Sequence[InitiativeScore]) -> dict[str, float]:
    n = max(1, len(scores))
    return {"region_recall": round(sum(s.recall for s in scores) / n, 3),
            "region_recall_unit_match": round(sum(s.recall_unit_match for s in scores) / n, 3),
            "region_precision": round(sum(s.precision for s in scores) / n, 3),
            "f1": round(sum(s.f1 for s in scores) / n, 3)}


@dataclass(frozen=True)
class ClusterFold:
    """One fold: the initiatives held out, the constants chosen on the others, the held-out figures."""

    fold: int
    initiatives: list[str]
    chosen: dict[str, Any]
    train_f1: float
    held_out: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterCrossValidation:
    """Held-out figures of the clustering constants chosen on the other folds, beside the shipped ones.

    ``held_out`` pools every initiative's score under the constants chosen without it; ``shipped`` scores
    all initiatives with the shipped sentence-grain constants and ``unit_baseline`` with the unit grain's
    (the method before issue 19). ``chosen_on_all`` is what the grid picks on every initiative;
    ``held_out_per_initiative`` each initiative's fold and held-out figures. Only
    ``eligible`` candidates are chosen: those whose median initiative spans fewer than all the regions.
    """

    folds: int
    initiatives: int
    candidates: int
    eligible: int
    objective: str
    held_out: dict[str, float]
    shipped: dict[str, Any]
    unit_baseline: dict[str, Any]
    chosen_on_all: dict[str, Any]
    per_fold: list[ClusterFold]
    held_out_per_initiative: dict[str, dict[str, Any]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def assign_folds(labelled: list[dict[str, Any]], folds: int) -> list[list[str]]:
    """The initiatives' ids in ``folds`` groups: ordered by their hash and dealt out in turn (none empty)."""
    ordered = sorted((item["id"] for item in labelled),
                     key=lambda i: (hashlib.sha256(i.encode("utf-8")).hexdigest(), i))
    return [ordered[f::folds] for f in range(folds)]


def cross_validate_clusters(units: UnitTable, sentences: SentenceTable | None, labelled: list[dict[str, Any]], *,
                            folds: int, grid: dict[str, Sequence[Any]] | None = None,
                            k: int = DEFAULT_K) -> ClusterCrossValidation:
    """Choose the clustering constants on ``folds - 1`` folds of ``labelled`` by mean F1 of region recall and
    region precision, score the fold left out, and pool the held-out scores.

    Each candidate clustering is computed once (it does not depend on the labels); a candidate of the
    sentence grain needs ``sentences``.
    """
    if folds < 2:
        raise QueryError(f"--folds must be at least 2, got {folds}")
    if len(labelled) < folds:
        raise QueryError(f"{len(labelled)} labelled initiatives cannot be split into {folds} folds")
    started = time.perf_counter()
    tables = {"unit": units, "sentence": sentences}
    candidates = [c for c in candidate_constants(grid) if tables[c["granularity"]] is not None]
    shipped = [shipped_constants("sentence"), shipped_constants("unit")]
    for c in shipped:
        if c not in candidates and tables[c["granularity"]] is not None:
            candidates.append(c)
    if not candidates:
        raise QueryError("this index stores no sentence vectors; rebuild it to cluster sentences")
    scores: list[dict[str, InitiativeScore]] = []
    spans: list[float] = []
    locators = {granularity: EvidenceLocator(table) for granularity, table in tables.items() if table is not None}
    for c in candidates:
        table = tables[c["granularity"]]
        assert table is not None
        found = grouping_for(table, c, k=k)
        scores.append(score_initiatives(found, labelled, locator=locators[c["granularity"]]))
        spans.append(float(np.median([len({table.regions[i] for i in g}) for g in found.groups]))
                     if found.groups else 0.0)
    regions = len(set(units.regions))
    # Initiatives, not topics: a candidate whose median initiative spans every region is no candidate.
    eligible = [n for n in range(len(candidates)) if regions < 3 or spans[n] < regions] or list(range(len(candidates)))

    def mean_f1(n: int, ids: Sequence[str]) -> float:
        return sum(scores[n][i].f1 for i in ids) / max(1, len(ids))

    def best(ids: Sequence[str]) -> int:
        return max(eligible, key=lambda n: (round(mean_f1(n, ids), 9), -n))

    groups = assign_folds(labelled, folds)
    pooled: list[InitiativeScore] = []
    per_fold = []
    per_initiative: dict[str, dict[str, Any]] = {}
    for f, held in enumerate(groups):
        train = [i for g in groups if g is not held for i in g]
        n = best(train)
        pooled += [scores[n][i] for i in held]
        for i in held:
            per_initiative[i] = {"fold": f, "recall": round(scores[n][i].recall, 3),
                                 "recall_unit_match": round(scores[n][i].recall_unit_match, 3),
                                 "precision": round(scores[n][i].precision, 3)}
        per_fold.append(ClusterFold(f, list(held), candidates[n], round(mean_f1(n, train), 3),
                                    _summary([scores[n][i] for i in held])))
    everyone = [item["id"] for item in labelled]

    def figures(c: dict[str, Any]) -> dict[str, Any]:
        if c not in candidates:
            return {"constants": c, "available": False}
        n = candidates.index(c)
        return {"constants": c, **_summary([scores[n][i] for i in everyone]), "median_regions": spans[n]}

    return ClusterCrossValidation(folds, len(labelled), len(candidates), len(eligible),
                                  "mean F1 of region recall and precision, median initiative below all regions",
                                  _summary(pooled), figures(shipped[0]), figures(shipped[1]),
                                  candidates[best(everyone)], per_fold,
                                  {i: per_initiative[i] for i in everyone}, round(time.perf_counter() - started, 2))


# --------------------------------------------------------------------------- files and the shipped clustering


def _read_list(path: Path, what: str) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON {what} file ({exc})") from exc
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of {what}s")
    return data


def load_initiatives(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Labelled initiatives of one or more files (``{id, members: [{region, evidence: [...]}]}`` each), pooled.

    An id found in two files is prefixed with its file's stem (``clusters_dev:c03``). A malformed file is an
    :class:`InputError` naming it.
    """
    loaded: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        for item in _read_list(path, "labelled initiative"):
            members = item.get("members") if isinstance(item, dict) else None
            if not (isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(members, list)
                    and members and all(isinstance(m, dict) and isinstance(m.get("region"), str)
                                        and isinstance(m.get("evidence"), list) and m["evidence"]
                                        and all(isinstance(e, str) and e for e in m["evidence"])
                                        for m in members)):
                raise InputError(f"{path}: expected a JSON list of {{id, members: [{{region, evidence: [...]}}]}} "
                                 "objects (labelled initiatives)")
            loaded.append((path, item))
    counts = Counter(item["id"] for _, item in loaded)
    pooled = []
    for path, item in loaded:
        pooled.append({**item, "id": f"{path.stem}:{item['id']}"} if counts[item["id"]] > 1 else item)
    if len({item["id"] for item in pooled}) != len(pooled):
        raise InputError(f"{paths[0]}: labelled initiative ids repeat within one file")
    return pooled


def load_boilerplate(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Labelled formula passages (``{id, occurrences: [{region, evidence: [...]}]}`` each) of one or more files."""
    pooled = []
    for path in paths:
        for item in _read_list(path, "formula passage"):
            if not (isinstance(item, dict) and isinstance(item.get("occurrences"), list) and all(
                    isinstance(m, dict) and isinstance(m.get("region"), str) and isinstance(m.get("evidence"), list)
                    for m in item["occurrences"])):
                raise InputError(f"{path}: expected a JSON list of {{id, occurrences: [{{region, evidence}}]}} "
                                 "objects (formula passages)")
            pooled.append(item)
    return pooled


def shared_phrase_members(label: str, texts: Sequence[str]) -> int:
    """How many of ``texts`` hold ``label`` (after the normalisation of evidence matching)."""
    wanted = normalize_for_match(label).lower()
    return sum(1 for t in texts if wanted and wanted in normalize_for_match(t).lower())


@dataclass(frozen=True)
class InitiativeEvaluation:
    """The shipped clustering of an index scored on labelled initiatives and formula passages.

    ``shipped``: :func:`measure` figures of the sentence grain with the shipped constants (with
    ``region_recall_unit_match`` and ``region_precision``); ``unit_baseline``: the unit grain (the method
    before issue 19). ``names``: of the initiatives spanning two regions or more, how many are named by a
    phrase found in at least two members' sentences (``named_by_shared_phrase``, ``share``), and the
    names that repeat (``duplicates``, none expected).
    """

    initiatives: int
    shipped: dict[str, Any]
    unit_baseline: dict[str, Any]
    names: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scored(found: Grouping, labelled: list[dict[str, Any]], boilerplate: list[dict[str, Any]]) -> dict[str, Any]:
    figures = measure(found.table, labelled, boilerplate, k=found.k, quantile=found.quantile, found=found)
    summary = _summary(list(score_initiatives(found, labelled).values()))
    return {**figures, "region_recall_unit_match": summary["region_recall_unit_match"],
            "region_precision": summary["region_precision"], "f1": summary["f1"]}


def evaluate_initiatives(units: UnitTable, sentences: SentenceTable | None, labelled: list[dict[str, Any]],
                         boilerplate: Sequence[dict[str, Any]] = ()) -> InitiativeEvaluation:
    """Score the shipped sentence-grain clustering and the unit-grain baseline (see :class:`InitiativeEvaluation`)."""
    from simkit.initiatives.clustering import cluster_table

    if sentences is None:
        raise QueryError("this index stores no sentence vectors; rebuild it to cluster sentences")
    started = time.perf_counter()
    results = {}
    for grain, table in (("sentence", sentences), ("unit", units)):
        found = grouping_for(table, shipped_constants(grain))
        results[grain] = _scored(found, labelled, list(boilerplate))
    clustering = cluster_table(sentences)
    texts = {sid: sentences.texts[i] for i, sid in enumerate(sentences.ids)}
    regions = {sid: sentences.regions[i] for i, sid in enumerate(sentences.ids)}
    reported = [c for c in clustering.clusters if len({regions[s["id"]] for s in c["sentences"]}) >= 2]
    shared = [c for c in reported if c.get("named_by") == "phrase"
              and shared_phrase_members(c["label"], [texts[s["id"]] for s in c["sentences"]]) >= 2]
    labels = Counter(c["label"] for c in reported)
    names = {"initiatives": len(reported), "named_by_shared_phrase": len(shared),
             "share": round(len(shared) / len(reported), 3) if reported else 0.0,
             "duplicates": sorted(label for label, n in labels.items() if n > 1),
             "labels": [c["label"] for c in reported]}
    return InitiativeEvaluation(len(labelled), results["sentence"], results["unit"], names,
                                round(time.perf_counter() - started, 2))
