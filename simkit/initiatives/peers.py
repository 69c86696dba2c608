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

Each region's carried-out rows and profile are written with the version (:func:`save_profiles`), so
the first call on an index handle reads them, not every vector; a version written before computes
them from all vectors on its first call (both timed in docs/method/benchmarks.md). A call then reads
the vectors of the asked region's and its peers' units only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from simkit import arguments
from simkit.errors import IndexLoadError, NotFoundError
from simkit.reading.regions import lookup
from simkit.results import Hit, Recommendation
from simkit.store.database import Store
from simkit.store.parts import IndexParts

CARRIED_OUT = ("measure", "leadership")


PROFILE_REGIONS = "peer_regions.json"
PROFILE_OFFSETS = "peer_offsets.npy"
PROFILE_ROWS = "peer_rows.npy"
PROFILE_CENTROIDS = "peer_centroids.npy"
PROFILE_FILES = (PROFILE_REGIONS, PROFILE_OFFSETS, PROFILE_ROWS, PROFILE_CENTROIDS)


def region_centroids(by_region: dict[str, np.ndarray], vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Each region's profile: the (unnormalised) mean float32 vector of its rows."""
    return {name: np.asarray(vectors[rows], dtype=np.float32).mean(axis=0) for name, rows in by_region.items()}


def save_profiles(directory: Path, store: Store, vectors: np.ndarray) -> list[str]:
    """Write every region's carried-out rows and mean vector (its profile) into ``directory``; returns the names.

    ``vectors[i]`` is unit row ``i``'s vector (float32, as the FAISS index holds it). Files: ``peer_regions.json``
    (the region names, in the order :meth:`~simkit.store.database.Store.rows_by_region` gives them),
    ``peer_offsets.npy`` (int64; region ``i``'s rows are ``rows[offsets[i]:offsets[i + 1]]``),
    ``peer_rows.npy`` (int64) and ``peer_centroids.npy`` (float32 ``(regions, dim)``, the unnormalised means).
    """
    by_region = store.rows_by_region(CARRIED_OUT)
    names = list(by_region)
    offsets = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([len(rows) for rows in by_region.values()], out=offsets[1:])
    rows = np.concatenate(list(by_region.values())) if names else np.zeros(0, dtype=np.int64)
    dim = int(np.shape(vectors)[1]) if np.ndim(vectors) == 2 else 0
    centroids = np.zeros((len(names), dim), dtype=np.float32)
    for i, centroid in enumerate(region_centroids(by_region, vectors).values()):
        centroids[i] = centroid
    (directory / PROFILE_REGIONS).write_text(json.dumps(names, ensure_ascii=False) + "\n", encoding="utf-8")
    np.save(directory / PROFILE_OFFSETS, offsets)
    np.save(directory / PROFILE_ROWS, rows.astype(np.int64))
    np.save(directory / PROFILE_CENTROIDS, centroids)
    return list(PROFILE_FILES)


class PeerProfiles:
    """What recommendations need from an index, read or computed once per index handle.

    The carried-out, non-boilerplate units of each region (``rows``), each region's mean vector
    (``centroids``: its profile) and the "close" threshold per quantile. A version that stores its
    profiles (:func:`save_profiles`) is read from them, memory-mapped, and unit vectors are read
    for the rows a call needs; an older version's are computed from all vectors, read once.
    """

    def __init__(self, parts: IndexParts) -> None:
        self.parts = parts
        self._matrix: np.ndarray | None = None
        stored = _load_profiles(parts)
        if stored is not None:
            self.rows, self.centroids = stored
        else:
            self.rows = parts.store.rows_by_region(CARRIED_OUT)
            self._matrix = parts.all_vectors()
            self.centroids = region_centroids(self.rows, self._matrix)
        self._thresholds: dict[float, float] = {}

    @property
    def stored(self) -> bool:
        """Whether the profiles were read from the version's files (not computed from every vector)."""
        return self._matrix is None

    def vectors(self, rows: Any) -> np.ndarray:
        """The unit vectors at ``rows`` (float32, one row each)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._matrix is not None:
            return self._matrix[rows]
        if not len(rows):
            return np.zeros((0, self.parts.dimension), dtype=np.float32)
        return np.asarray(self.parts.vectors_at(rows), dtype=np.float32)

    def close_threshold(self, quantile: float = 0.98, sample: int = 400, seed: int = 0) -> float:
        """The cosine above which two units of different reports count as the same kind of measure."""
        if quantile not in self._thresholds:
            lengths = [len(r) for r in self.rows.values()]
            rows = np.concatenate(list(self.rows.values())) if self.rows else np.zeros(0, np.int64)
            regions = np.repeat(np.arange(len(lengths)), lengths)
            value = 1.0
            if len(rows) >= 2:
                pick = np.random.default_rng(seed).choice(len(rows), size=min(sample, len(rows)), replace=False)
                vectors = self.vectors(rows[pick])
                other = regions[pick][:, None] != regions[pick][None, :]
                values = (vectors @ vectors.T)[other]
                value = float(np.quantile(values, quantile)) if values.size else 1.0
            self._thresholds[quantile] = value
        return self._thresholds[quantile]


def _load_profiles(parts: IndexParts) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """The stored profiles of ``parts``'s version (rows and centroids by region), or None if it has none."""
    directory = parts.version.path
    if not all(name in parts.manifest.files for name in PROFILE_FILES):
        return None
    parts.require_version_dir()
    try:
        names = json.loads((directory / PROFILE_REGIONS).read_text(encoding="utf-8"))
        offsets = np.load(directory / PROFILE_OFFSETS, allow_pickle=False)
        rows = np.load(directory / PROFILE_ROWS, mmap_mode="r", allow_pickle=False)
        centroids = np.load(directory / PROFILE_CENTROIDS, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{directory}: unreadable region profiles ({exc}); rebuild the index") from exc
    if (not isinstance(names, list) or len(offsets) != len(names) + 1 or len(centroids) != len(names)
            or (len(names) and int(offsets[-1]) != len(rows))):
        raise IndexLoadError(f"{directory / PROFILE_OFFSETS}: region profiles do not fit together; rebuild the index")
    by_region = {str(name): np.asarray(rows[int(offsets[i]):int(offsets[i + 1])], dtype=np.int64)
                 for i, name in enumerate(names)}
    return by_region, {str(name): np.asarray(centroids[i]) for i, name in enumerate(names)}


class Peers:
    """Region profiles of one index version (computed on first use) and recommendations from them."""

    def __init__(self, parts: IndexParts) -> None:
        self.parts = parts
        self._profiles: PeerProfiles | None = None

    @property
    def profiles(self) -> PeerProfiles:
        """Every region's profile (read from the version's files; a version without them reads every vector)."""
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
    own = profiles.vectors(by_region[region])
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
    candidates = profiles.vectors(cand_rows)
    coverage = (candidates @ own.T).max(axis=1)
    keep = coverage < tau
    candidates, coverage = candidates[keep], coverage[keep]
    rows = np.asarray(cand_rows)[keep]
    regions = np.asarray(cand_regions)[keep]
    if not len(rows):
        return []
    sims = candidates @ candidates.T
    relevance = candidates @ profile
    # Greedy grouping: the candidate supported by most regions first (the distinct regions of its close candidates).
    region_ids = np.unique(regions, return_inverse=True)[1].reshape(-1)
    one_hot = np.zeros((len(rows), int(region_ids.max()) + 1), dtype=np.float32)
    one_hot[np.arange(len(rows)), region_ids] = 1.0
    support_count = (((sims >= tau).astype(np.float32) @ one_hot) > 0).sum(axis=1)
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
