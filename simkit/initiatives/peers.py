"""Recommendations for the product team: what similar regions reported that a region has not.

``Peers(parts).recommend(region)``:

1. **Peers.** Each region is represented by the mean vector of its carried-out measures
   (roles ``measure`` and ``leadership``, boilerplate excluded); the ``peers`` regions
   closest to the asked region are its peers.
2. **Not yet done.** A peer's measure is a candidate when no unit of the asked region is
   *close* to it. Close means a cosine at or above the ``close_quantile`` (98 %) of
   cross-region unit-to-unit similarities in this index — a data-driven threshold, since
   e5's raw cosines are compressed and model-specific.
3. **Supported.** Candidates close to each other are grouped greedily; a group's
   supporting regions are the peers with a member in it. Groups are ranked by the number of
   supporting regions, then by their similarity to the asked region's profile (what it is
   likely to find relevant); groups supported by fewer than ``min_support`` regions are
   dropped.

The first call on an index handle reads all vectors once and computes every region's profile
(timed in docs/method/benchmarks.md); later calls work on the peers' units only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simkit import arguments
from simkit.errors import NotFoundError
from simkit.reading.regions import lookup
from simkit.results import Hit, Recommendation
from simkit.store.parts import IndexParts

CARRIED_OUT = ("measure", "leadership")


class PeerProfiles:
    """What recommendations need from an index, computed once per index handle.

    The carried-out, non-boilerplate units of each region, all unit vectors, each region's
    mean vector (profile) and the "close" threshold per quantile.
    """

    def __init__(self, parts: IndexParts) -> None:
        self.rows = parts.store.rows_by_region(CARRIED_OUT)
        self.matrix = parts.all_vectors()
        self.centroids = {name: self.matrix[rows].mean(axis=0) for name, rows in self.rows.items()}
        self._thresholds: dict[float, float] = {}

    def close_threshold(self, quantile: float = 0.98, sample: int = 400, seed: int = 0) -> float:
        """The cosine above which two units of different reports count as the same kind of measure."""
        if quantile not in self._thresholds:
            rows = np.concatenate(list(self.rows.values())) if self.rows else np.zeros(0, np.int64)
            regions = np.concatenate([[name] * len(r) for name, r in self.rows.items()]) if self.rows else np.zeros(0)
            value = 1.0
            if len(rows) >= 2:
                pick = np.random.default_rng(seed).choice(len(rows), size=min(sample, len(rows)), replace=False)
                vectors = self.matrix[rows[pick]]
                other = regions[pick][:, None] != regions[pick][None, :]
                values = (vectors @ vectors.T)[other]
                value = float(np.quantile(values, quantile)) if values.size else 1.0
            self._thresholds[quantile] = value
        return self._thresholds[quantile]


class Peers:
    """Region profiles of one index version (computed on first use) and recommendations from them."""

    def __init__(self, parts: IndexParts) -> None:
        self.parts = parts
        self._profiles: PeerProfiles | None = None

    @property
    def profiles(self) -> PeerProfiles:
        """Every region's profile (reads every vector once; only peer and recommendation calls need it)."""
        if self._profiles is None:
            self._profiles = PeerProfiles(self.parts)
        return self._profiles

    def recommend(self, region: str, k: int = 10, *, peers: int = 10, min_support: int = 2,
                  close_quantile: float = 0.98) -> list[Recommendation]:
        """Measures that ``region``'s closest peers reported and ``region`` has not, best first."""
        return recommend_for_region(self.parts, self.profiles, region, k, peers=peers, min_support=min_support,
                                    close_quantile=close_quantile)


def recommend_for_region(parts: IndexParts, profiles: PeerProfiles, region: str, k: int = 10, *, peers: int = 10,
                         min_support: int = 2, close_quantile: float = 0.98) -> list[Recommendation]:
    """Measures that ``region``'s closest peers reported and ``region`` has not, best first.

    ``k``, ``peers`` and ``min_support`` are whole numbers of at least 1 and ``close_quantile`` is in
    (0, 1]; anything else raises :class:`~simkit.errors.QueryError`.
    """
    region = arguments.text("region", region)
    k = arguments.whole_number("k", k)
    peers = arguments.whole_number("peers", peers)
    min_support = arguments.whole_number("min_support", min_support)
    close_quantile = arguments.fraction("close_quantile", close_quantile, above_zero=True)
    by_region = profiles.rows
    if region not in by_region:
        info = lookup(region)  # 四平 → 四平市, 泉港区 → 泉州市泉港区
        region = info.name if info is not None and info.name in by_region else region
    if region not in by_region:
        known = ", ".join(sorted(by_region)[:10])
        raise NotFoundError(f"{region}: no carried-out measures of this region in {parts.root}; known: {known}")
    tau = profiles.close_threshold(close_quantile)
    own = profiles.matrix[by_region[region]]
    profile = own.mean(axis=0)
    profile /= np.linalg.norm(profile) or 1.0
    centroids = {name: c for name, c in profiles.centroids.items() if name != region}
    ranked_peers = sorted(centroids, key=lambda name: -float(centroids[name] @ profile)
                          / (np.linalg.norm(centroids[name]) or 1.0))[:peers]

    cand_rows: list[int] = []
    cand_regions: list[str] = []
    for peer in ranked_peers:
        cand_rows.extend(by_region[peer].tolist())
        cand_regions.extend([peer] * len(by_region[peer]))
    if not cand_rows:
        return []
    candidates = profiles.matrix[np.asarray(cand_rows)]
    coverage = (candidates @ own.T).max(axis=1)
    keep = coverage < tau
    candidates, coverage = candidates[keep], coverage[keep]
    rows = np.asarray(cand_rows)[keep]
    regions = np.asarray(cand_regions)[keep]
    if not len(rows):
        return []
    sims = candidates @ candidates.T
    relevance = candidates @ profile
    # Greedy grouping: the candidate supported by most regions first.
    support_count = np.array([len(set(regions[sims[i] >= tau])) for i in range(len(rows))])
    order = np.lexsort((-relevance, -support_count))
    taken = np.zeros(len(rows), dtype=bool)
    recommendations: list[Recommendation] = []
    units = parts.store.units_at(rows.tolist())
    for i in order:
        if taken[i]:
            continue
        members = np.where((sims[i] >= tau) & ~taken)[0]
        taken[members] = True
        supporting = sorted(set(regions[members].tolist()))
        if len(supporting) < min_support:
            continue
        best_per_region: dict[str, int] = {}
        for m in members:
            name = regions[m]
            if name not in best_per_region or sims[i][m] > sims[i][best_per_region[name]]:
                best_per_region[name] = int(m)
        hit = _hit(units[int(rows[i])], float(relevance[i]))
        support = [_hit(units[int(rows[m])], float(sims[i][m])) for m in best_per_region.values()]
        recommendations.append(Recommendation(hit, str(regions[i]), supporting, support,
                                              round(float(coverage[i]), 4), round(float(relevance[i]), 4)))
        if len(recommendations) >= k:
            break
    return recommendations


def _hit(unit: Any, score: float) -> Hit:
    return Hit(unit.id, unit.document_id, unit.title, unit.year, unit.section, unit.text, round(score, 4),
               unit.role, unit.boilerplate, round(score, 4))
