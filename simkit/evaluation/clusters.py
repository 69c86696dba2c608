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

import time
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simkit.evaluation.queries import normalize_for_match
from simkit.initiatives.graph import DEFAULT_RESOLUTION, group_units, knn
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

    @property
    def granularity(self) -> str:
        return "sentence" if isinstance(self.table, SentenceTable) else "unit"

    @property
    def params(self) -> dict[str, Any]:
        return {"granularity": self.granularity, "k": self.k, "quantile": self.quantile,
                "resolution": self.resolution, "min_regions": self.min_regions}


def grouping(table: UnitTable, *, method: str = "besthit-leiden", k: int, quantile: float,
             resolution: float = DEFAULT_RESOLUTION, min_regions: int = 2) -> Grouping:
    """Cluster ``table`` and keep the groups spanning ``min_regions`` regions."""
    started = time.perf_counter()
    groups, tau = group_units(table, method=method, k=k, quantile=quantile, resolution=resolution)
    seconds = time.perf_counter() - started
    reported = [g for g in groups if len({table.regions[i] for i in g}) >= min_regions]
    return Grouping(table, reported, tau, k, quantile, resolution, min_regions, seconds)


def recall_of(found: Grouping, labelled: list[dict[str, Any]], *, match: str = "item") -> dict[str, dict[str, Any]]:
    """Per labelled initiative: region recall of its best-matching group, that group's size and span."""
    table = found.table
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
            keys: set[Any] = (unit_members(table, m["region"], m["evidence"])
                              if match == "unit" and isinstance(table, SentenceTable)
                              else locate(table, m["region"], m["evidence"]))
            for key in keys:
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
            resolution: float = DEFAULT_RESOLUTION, match: str = "item",
            found: Grouping | None = None) -> dict[str, Any]:
    """Cluster ``table`` with one method and score it against labelled initiatives and boilerplate.

    ``table`` is a :class:`UnitTable` (the unit grain) or a :class:`SentenceTable`; ``match`` ``"unit"``
    scores a sentence clustering at the unit grain (see the module docstring). ``found`` reuses a clustering.
    """
    found = found or grouping(table, method=method, k=k, quantile=quantile, resolution=resolution,
                              min_regions=min_regions)
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
        "method": method, **found.params, "match": match, "threshold": round(found.threshold, 4),
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


@dataclass(frozen=True)
class Measured:
    """Figures of one clustering: what :func:`measure` returns, as a record."""

    figures: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)["figures"]
