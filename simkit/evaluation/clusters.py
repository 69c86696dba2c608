"""Clustering quality on labelled initiatives (used by ``scripts/eval_clusters.py`` and the tests).

- ``region_recall``: for each labelled initiative, the share of its regions whose evidence unit
  is in the best-matching reported cluster (the one holding the most of them); mean over
  initiatives (target ≥ 0.75).
- ``best_cluster_units``: mean size of those best-matching clusters (a method that lumps
  everything together would score high recall with huge clusters; this shows it).
- ``boilerplate_initiatives``: labelled formula passages reported as an initiative: a reported
  cluster where units of ≥ 2 regions contain the passage and they make up at least half of its
  units (target: none). ``boilerplate_units_in_clusters`` counts such units in any cluster.
- ``orphaned``: share of units with a neighbour of another region above the close threshold
  that end up in no reported cluster (the "outlier bucket").

Evidence strings are located after NFKC and whitespace removal, like ``simkit eval``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from simkit.evaluation.queries import normalize_for_match
from simkit.initiatives.graph import group_units, knn
from simkit.initiatives.units import UnitTable


def locate(table: UnitTable, region: str, evidence: list[str]) -> set[int]:
    """Indices of the table's units of ``region`` containing one of the evidence strings."""
    wanted = [normalize_for_match(e) for e in evidence]
    return {i for i, (r, t) in enumerate(zip(table.regions, table.texts))
            if r == region and any(w in normalize_for_match(t) for w in wanted)}


def measure(table: UnitTable, labelled: list[dict[str, Any]], boilerplate: list[dict[str, Any]], *, method: str,
            k: int, quantile: float, min_regions: int = 2) -> dict[str, Any]:
    """Cluster ``table`` with one method and score it against labelled initiatives and boilerplate."""
    started = time.perf_counter()
    groups, tau = group_units(table, method=method, k=k, quantile=quantile)
    seconds = time.perf_counter() - started
    reported = [g for g in groups if len({table.regions[i] for i in g}) >= min_regions]
    cluster_of = {i: c for c, g in enumerate(reported) for i in g}

    per_initiative = {}
    best_sizes = []
    for item in labelled:
        found = {m["region"]: locate(table, m["region"], m["evidence"]) for m in item["members"]}
        votes: dict[int, set[str]] = {}
        for region, units in found.items():
            for i in units:
                if i in cluster_of:
                    votes.setdefault(cluster_of[i], set()).add(region)
        best = max(votes, key=lambda c: (len(votes[c]), -len(reported[c])), default=None)
        share = len(votes[best]) / len(found) if best is not None else 0.0
        per_initiative[item["id"]] = round(share, 3)
        if best is not None:
            best_sizes.append(len(reported[best]))

    bp_initiatives = []
    bp_units = 0
    for item in boilerplate:
        units = {i: m["region"] for m in item["occurrences"] for i in locate(table, m["region"], m["evidence"])}
        bp_units += sum(1 for i in units if i in cluster_of)
        for g in reported:
            inside = [i for i in g if i in units]
            if len({units[i] for i in inside}) >= 2 and len(inside) * 2 >= len(g):
                bp_initiatives.append(item["id"])
                break

    sims, nbrs = knn(table.vectors, k)
    regions = np.asarray(table.regions, dtype=object)
    cross = (sims >= tau) & (regions[nbrs] != regions[:, None])
    clear = np.where(cross.any(axis=1))[0]
    orphaned = sum(1 for i in clear.tolist() if i not in cluster_of) / max(1, len(clear))
    return {
        "method": method, "k": k, "quantile": quantile, "threshold": round(tau, 4),
        "region_recall": round(float(np.mean(list(per_initiative.values()))), 3),
        "per_initiative": per_initiative,
        "best_cluster_units": round(float(np.mean(best_sizes)), 1) if best_sizes else 0,
        "boilerplate_initiatives": bp_initiatives, "boilerplate_units_in_clusters": bp_units,
        "orphaned": round(orphaned, 3), "clusters": len(reported),
        "clustered_units": sum(len(g) for g in reported), "units": len(table),
        "largest_cluster": max((len(g) for g in reported), default=0), "seconds": round(seconds, 3),
    }
