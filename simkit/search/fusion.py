"""Reciprocal-rank fusion of the dense and the word-based rankings (BM25, translated, latent terms): pure
functions over row lists.

The weights and the fusion constant are :class:`~simkit.search.settings.SearchSettings`, chosen by
cross-validation (docs/method/cross-validation.md); the method: docs/method/search.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from simkit.search.settings import DEFAULT_SETTINGS, SearchSettings


def fuse(rankings: Iterable[tuple[str, list[int]]], settings: SearchSettings = DEFAULT_SETTINGS) -> dict[int, float]:
    """Each row's fused score: the sum over the named rankings of ``weight / (rrf_k + rank + 1)``."""
    scores: dict[int, float] = {}
    for name, ranking in rankings:
        weight = settings.weight(name)
        if weight <= 0:  # a ranking weighed 0 does not take part (nor bring its rows)
            continue
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + weight / (settings.rrf_k + rank + 1)
    return scores


@dataclass(frozen=True)
class Ranking:
    """Rows best first by the mode's unit score; in hybrid mode also the rankings fused.

    ``sparse`` holds the word-based rankings fused with the dense one, by name: ``lexical`` (BM25 on the
    query's own words) for a Chinese query; for a cross-lingual query (English; ``crosslingual_query``),
    ``translated`` (BM25 on its dictionary translation, :mod:`simkit.search.translation`) and ``latent`` (its latent
    terms), each where it found rows and its weight is above 0.
    """

    order: list[int]
    scores: dict[int, float]
    dense: list[int] = field(default_factory=list)
    sparse: tuple[tuple[str, list[int]], ...] = ()

    @property
    def names(self) -> list[str]:
        """The rankings with rows, as named in :attr:`SearchResult.rankings`."""
        return [name for name, rows in (("dense", self.dense), *self.sparse) if rows]

    def sparse_ranks(self, names: Iterable[str], settings: SearchSettings = DEFAULT_SETTINGS) -> dict[int, int] | None:
        """Rows' places in the named sparse rankings fused (one ranking: its own order); None if none has rows."""
        chosen = [(name, rows) for name, rows in self.sparse if name in set(names) and rows]
        if not chosen:
            return None
        if len(chosen) == 1:
            return {row: rank for rank, row in enumerate(chosen[0][1])}
        scores = fuse(((name, rows) for name, rows in chosen), replace(settings, **_UNIT_WEIGHTS))
        return {row: rank for rank, row in enumerate(sorted(scores, key=lambda r: -scores[r]))}

    def region_scores(self, region_of: Mapping[int, str], regions: Iterable[str],
                      settings: SearchSettings = DEFAULT_SETTINGS) -> dict[str, float]:
        """Hybrid region scores: each region's rank in the dense and in each sparse ranking (by its
        best unit there), fused by reciprocal rank like the units.

        Fusing at the level that is ranked: a region first in one ranking and third in the other
        ranks by those places, where its best *fused* unit (one fair in both) could rank it below
        regions that are second in both (measured in docs/method/search.md). With
        ``settings.region_support`` a region also gains that share of its further units' reciprocal
        ranks in each ranking (how many of its units match).
        """
        places: dict[str, float] = dict.fromkeys(regions, 0.0)
        for name, ranking in (("dense", self.dense), *self.sparse):
            if not ranking or settings.weight(name) <= 0:  # e.g. no word shared: no place to give
                continue
            seen: dict[str, int] = {}
            support: dict[str, float] = {}
            weight = settings.weight(name)
            for rank, row in enumerate(ranking):
                region = region_of.get(row)
                if region is None:
                    continue
                if region not in seen:
                    seen[region] = len(seen)
                elif settings.region_support > 0:  # the region's further units, by their own rank
                    support[region] = support.get(region, 0.0) + weight / (settings.rrf_k + rank + 1)
            for region in places:  # regions without a unit in this ranking come after those with one
                places[region] += weight / (settings.rrf_k + seen.get(region, len(seen)) + 1)
                places[region] += settings.region_support * support.get(region, 0.0)
        return places


_UNIT_WEIGHTS = {"lexical_weight": 1.0, "latent_weight": 1.0, "translation_weight": 1.0}
