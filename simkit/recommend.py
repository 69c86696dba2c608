"""Recommendations for the product team: what similar regions reported that a region has not.

``recommend_for_region(index, region)``:

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
(about 2 s for 200,000 units); later calls work on the peers' units only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from .search import Hit, SimkitIndex

CARRIED_OUT = ("measure", "leadership")


@dataclass(frozen=True)
class Recommendation:
    """A measure peers reported and the region has not, with the regions that support it."""

    measure: Hit
    region: str
    supporting_regions: list[str]
    support: list[Hit] = field(default_factory=list)
    closest_own_similarity: float = 0.0
    relevance: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _region_rows(index: SimkitIndex) -> dict[str, np.ndarray]:
    """Rows of carried-out, non-boilerplate units per region."""
    marks = ",".join("?" * len(CARRIED_OUT))
    records = index.store._db.execute(
        "SELECT COALESCE(NULLIF(d.region, ''), 'unknown'), p.row "
        "FROM paragraphs p JOIN documents d ON d.id = p.document_id "
        f"WHERE p.row IS NOT NULL AND p.boilerplate = 0 AND p.role IN ({marks}) ORDER BY p.row",
        CARRIED_OUT,
    ).fetchall()
    grouped: dict[str, list[int]] = {}
    for region, row in records:
        grouped.setdefault(region, []).append(int(row))
    return {region: np.asarray(rows, dtype=np.int64) for region, rows in grouped.items()}


def _vectors(index: SimkitIndex, rows: np.ndarray) -> np.ndarray:
    """Unit vectors by row, from a matrix of all vectors read once per index handle."""
    matrix = getattr(index, "_recommend_matrix", None)
    if matrix is None:
        matrix = index._vectors.reconstruct_n(0, int(index._vectors.ntotal)).astype(np.float32)
        index._recommend_matrix = matrix
    return matrix[np.asarray(rows, dtype=np.int64)]


def close_threshold(index: SimkitIndex, quantile: float = 0.98, sample: int = 400, seed: int = 0) -> float:
    """The cosine above which two units of different reports count as the same kind of measure."""
    by_region = _region_rows(index)
    rows = np.concatenate(list(by_region.values())) if by_region else np.zeros(0, np.int64)
    regions = np.concatenate([[name] * len(r) for name, r in by_region.items()]) if by_region else np.zeros(0)
    if len(rows) < 2:
        return 1.0
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=min(sample, len(rows)), replace=False)
    vectors = _vectors(index, rows[pick])
    sims = vectors @ vectors.T
    other = regions[pick][:, None] != regions[pick][None, :]
    values = sims[other]
    return float(np.quantile(values, quantile)) if values.size else 1.0


def recommend_for_region(index: SimkitIndex, region: str, k: int = 10, *, peers: int = 10, min_support: int = 2,
                         close_quantile: float = 0.98) -> list[Recommendation]:
    """Measures that ``region``'s closest peers reported and ``region`` has not, best first."""
    cache = index.__dict__.setdefault("_recommend_cache", {})
    if "by_region" not in cache:
        cache["by_region"] = _region_rows(index)
    by_region = cache["by_region"]
    if region not in by_region:
        from .regions import lookup

        info = lookup(region)  # 四平 → 四平市, 泉港区 → 泉州市泉港区
        region = info.name if info is not None and info.name in by_region else region
    if region not in by_region:
        known = ", ".join(sorted(by_region)[:10])
        raise NotFoundError(f"{region}: no carried-out measures of this region in {index.root}; known: {known}")
    cache = index.__dict__.setdefault("_recommend_cache", {})
    if ("tau", close_quantile) not in cache:
        cache[("tau", close_quantile)] = close_threshold(index, close_quantile)
    tau = cache[("tau", close_quantile)]
    own = _vectors(index, by_region[region])
    profile = own.mean(axis=0)
    profile /= np.linalg.norm(profile) or 1.0
    if "centroids" not in cache:
        cache["centroids"] = {name: _vectors(index, rows).mean(axis=0) for name, rows in by_region.items()}
    centroids = {name: c for name, c in cache["centroids"].items() if name != region}
    ranked_peers = sorted(centroids, key=lambda name: -float(centroids[name] @ profile)
                          / (np.linalg.norm(centroids[name]) or 1.0))[:peers]

    cand_rows: list[int] = []
    cand_regions: list[str] = []
    for peer in ranked_peers:
        cand_rows.extend(by_region[peer].tolist())
        cand_regions.extend([peer] * len(by_region[peer]))
    if not cand_rows:
        return []
    candidates = _vectors(index, np.asarray(cand_rows))
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
    units = index.store.units_at(rows.tolist())
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
        hit = _hit(index, units[int(rows[i])], float(relevance[i]))
        support = [_hit(index, units[int(rows[m])], float(sims[i][m])) for m in best_per_region.values()]
        recommendations.append(Recommendation(hit, str(regions[i]), supporting, support,
                                              round(float(coverage[i]), 4), round(float(relevance[i]), 4)))
        if len(recommendations) >= k:
            break
    return recommendations


def _hit(index: SimkitIndex, unit: Any, score: float) -> Hit:
    from .search import Hit

    return Hit(unit.id, unit.document_id, unit.title, unit.year, unit.section, unit.text, round(score, 4),
               unit.role, unit.boilerplate, round(score, 4))
