"""Initiatives of an opened index version: clusters with their units, per region, and what a region's peers have.

How the clustering is computed and stored is in :mod:`simkit.initiatives.clustering`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simkit import arguments
from simkit.errors import NotFoundError
from simkit.initiatives.clustering import StoredClustering, stored_clustering
from simkit.initiatives.peers import Peers
from simkit.initiatives.units import CARRIED_OUT
from simkit.reading.regions import lookup
from simkit.results import ClusterSet, Initiative, InitiativeUnit, MissingInitiative, RegionMatrix
from simkit.store.parts import IndexParts


class Initiatives:
    """The recurring initiatives of one index version, read (or computed) once and cached per ``min_regions``.

    ``peers`` gives the region profiles that :meth:`missing` ranks peers by.
    """

    def __init__(self, parts: IndexParts, peers: Peers) -> None:
        self.parts = parts
        self.peers = peers
        self._clustering: StoredClustering | None = None
        self._sets: dict[int, ClusterSet] = {}

    @property
    def clustering(self) -> StoredClustering:
        """The version's stored clustering, read once."""
        if self._clustering is None:
            self.parts.require_version_dir()
            self._clustering = stored_clustering(self.parts)
        return self._clustering

    def clusters(self, min_regions: int = 2) -> ClusterSet:
        """The initiatives spanning at least ``min_regions`` regions, largest first (shared: do not modify)."""
        min_regions = arguments.whole_number("min_regions", min_regions)
        if min_regions not in self._sets:
            self._sets[min_regions] = _initiatives(self.parts, self.clustering, min_regions)
        return self._sets[min_regions]

    def matrix(self, min_regions: int = 2) -> RegionMatrix:
        """The region × initiative table of :meth:`clusters`."""
        return region_matrix(self.clusters(min_regions))

    def of_region(self, region: str, min_regions: int = 2) -> list[Initiative]:
        """The initiatives a region takes part in."""
        region = arguments.text("region", region)
        min_regions = arguments.whole_number("min_regions", min_regions)
        regions = sorted({str(d["reporter"]) for d in self.parts.store.documents()})
        region = _resolve_region(self.parts, region, regions)
        return [i for i in self.clusters(min_regions).clusters if region in i.regions]

    def missing(self, region: str, *, peers: int = 10, min_support: int = 2,
                min_regions: int = 2) -> list[MissingInitiative]:
        """Initiatives that ``region``'s closest peer regions take part in and ``region`` does not.

        Peers are the regions whose carried-out measures are, on average, closest to the region's
        (as for recommendations). Ranked by supporting peers, then by closeness to the region's profile.
        """
        region = arguments.text("region", region)
        peers = arguments.whole_number("peers", peers)
        min_support = arguments.whole_number("min_support", min_support)
        min_regions = arguments.whole_number("min_regions", min_regions)
        profiles = self.peers.profiles
        region = _resolve_region(self.parts, region, list(profiles.rows))
        own = profiles.vectors(profiles.rows[region])
        profile = own.mean(axis=0)
        profile /= np.linalg.norm(profile) or 1.0
        others = {name: c / (np.linalg.norm(c) or 1.0) for name, c in profiles.centroids.items() if name != region}
        ranked = sorted(others, key=lambda name: (-float(others[name] @ profile), name))[:peers]
        stored = self.clustering
        centroids = {c["id"]: stored.centroids[i] for i, c in enumerate(stored.clusters)}
        found: list[MissingInitiative] = []
        for initiative in self.clusters(min_regions).clusters:
            if region in initiative.regions:
                continue
            support = [p for p in ranked if p in initiative.regions]
            if len(support) < min_support:
                continue
            centroid = centroids[initiative.id]
            closest = float((own @ centroid).max()) if len(own) else 0.0
            found.append(MissingInitiative(initiative, region, support, round(closest, 4),
                                           round(float(centroid @ profile), 4)))
        found.sort(key=lambda m: (-len(m.peers), -m.relevance, m.initiative.id))
        return found


def by_region(units: Sequence[InitiativeUnit]) -> dict[str, list[InitiativeUnit]]:
    """An initiative's units grouped by region (in their order)."""
    groups: dict[str, list[InitiativeUnit]] = {}
    for u in units:
        groups.setdefault(u.region, []).append(u)
    return groups


def _initiatives(parts: IndexParts, stored: StoredClustering, min_regions: int) -> ClusterSet:
    units = parts.store.units_at([r for c in stored.clusters for r in c["rows"]])
    result: list[Initiative] = []
    for c, centroid in zip(stored.clusters, stored.centroids):
        rows = [int(r) for r in c["rows"]]
        sentences = _sentences_by_unit(parts, c, centroid)
        sims = parts.vectors_at(rows) @ centroid if rows and not sentences else []
        members = []
        for n, row in enumerate(rows):
            u = units[row]
            own = sentences.get(u.id, [])
            sim = max((s for _, s in own), default=0.0) if sentences else float(sims[n])
            spans = [list(span) for span, _ in own]
            members.append(InitiativeUnit(u.id, u.region or "unknown", u.year, u.role, u.text, u.document_id,
                                          u.section, round(float(sim), 4),
                                          " … ".join(u.text[a:b] for a, b in spans), spans))
        grouped = by_region(members)
        regions = sorted(grouped)
        if len(regions) < min_regions:
            continue
        members.sort(key=lambda m: (m.region, -m.similarity, m.paragraph_id))
        years: dict[str, int | None] = {}
        region_status: dict[str, str] = {}
        for region in regions:
            own = grouped[region]
            known = [m.year for m in own if m.year is not None]
            years[region] = min(known) if known else None
            region_status[region] = "carried_out" if any(m.role in CARRIED_OUT for m in own) else "planned"
        roles = {m.role in CARRIED_OUT for m in members}
        status = "mixed" if len(roles) == 2 else ("carried_out" if True in roles else "planned")
        result.append(Initiative(c["id"], c["label"], list(c["keywords"]), regions, float(c["cohesion"]), members,
                                 years, c["representative"], status, region_status, str(c.get("named_by", ""))))
    result.sort(key=lambda i: (-len(i.regions), -len(i.units), i.id))
    return ClusterSet(parts.version.name, stored.method, stored.params, result, stored.changes, min_regions)


def _sentences_by_unit(parts: IndexParts, cluster: dict, centroid: np.ndarray
                       ) -> dict[str, list[tuple[tuple[int, int], float]]]:
    """A sentence-grain cluster's sentences per unit id: their spans and cosines to the centroid ({} otherwise)."""
    listed = cluster.get("sentences")
    if not isinstance(listed, list) or not listed:
        return {}
    rows = [int(x["sentence_row"]) for x in listed]
    if parts.sentences is not None:
        vectors = np.asarray(parts.sentences.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sims = (vectors @ centroid).tolist()
    else:
        sims = [0.0] * len(rows)
    found: dict[str, list[tuple[tuple[int, int], float]]] = {}
    for x, sim in zip(listed, sims):
        found.setdefault(str(x["unit"]), []).append(((int(x["span"][0]), int(x["span"][1])), float(sim)))
    for spans in found.values():
        spans.sort()
    return found


def _resolve_region(parts: IndexParts, region: str, known: Sequence[str]) -> str:
    if region in known:
        return region
    info = lookup(region)
    if info is not None and info.name in known:
        return info.name
    raise NotFoundError(f"{region}: no report of this region in {parts.root}; known: {', '.join(sorted(known)[:10])}")


def region_matrix(cluster_set: ClusterSet) -> RegionMatrix:
    """Region × initiative table: for each region and initiative, the years (and roles) it appears in."""
    regions = sorted({r for c in cluster_set.clusters for r in c.regions})
    cells = []
    for c in cluster_set.clusters:
        grouped = by_region(c.units)
        for region in c.regions:
            own = grouped.get(region, [])
            cells.append({"region": region, "initiative": c.id,
                          "years": sorted({m.year for m in own if m.year is not None}),
                          "status": c.region_status.get(region, "carried_out"), "units": len(own)})
    return RegionMatrix(cluster_set.version, regions,
                        [{"id": c.id, "label": c.label, "regions": len(c.regions), "first_year": c.first_year}
                         for c in cluster_set.clusters],
                        cells)
