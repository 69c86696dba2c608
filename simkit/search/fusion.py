"""Reciprocal-rank fusion of the dense and lexical (or latent-term) rankings: pure functions over row lists.

The weights and ``RRF_K`` and why they are what they are: docs/method/search.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RRF_K = 60
# Lexical ranks weigh double; a query with no indexed word (English) is ranked by its latent terms
# (simkit.store.latent) in place of the lexical ranking, weighed like the dense one.
RRF_WEIGHTS = {"dense": 1.0, "lexical": 2.0, "latent": 1.0}


def fuse(rankings: Iterable[tuple[str, list[int]]]) -> dict[int, float]:
    """Each row's fused score: the sum over the named rankings of ``weight / (RRF_K + rank + 1)``."""
    scores: dict[int, float] = {}
    for name, ranking in rankings:
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + RRF_WEIGHTS[name] / (RRF_K + rank + 1)
    return scores


@dataclass(frozen=True)
class Ranking:
    """Rows best first by the mode's unit score; in hybrid mode also the two rankings fused."""

    order: list[int]
    scores: dict[int, float]
    dense: list[int] = field(default_factory=list)
    lexical: list[int] = field(default_factory=list)
    lexical_kind: str = "lexical"  # or "latent": the query's latent terms stood in for its words

    @property
    def names(self) -> list[str]:
        """The rankings with rows, as named in :attr:`SearchResult.rankings`."""
        return [name for name, rows in (("dense", self.dense), (self.lexical_kind, self.lexical)) if rows]

    def region_scores(self, region_of: Mapping[int, str], regions: Iterable[str]) -> dict[str, float]:
        """Hybrid region scores: each region's rank in the dense and in the lexical ranking (by its
        best unit there), fused by reciprocal rank like the units.

        Fusing at the level that is ranked: a region first in one ranking and third in the other
        ranks by those places, where its best *fused* unit (one fair in both) could rank it below
        regions that are second in both (measured in docs/method/search.md). English queries have no
        lexical ranking; their latent-term ranking takes its place (``lexical_kind``).
        """
        places: dict[str, float] = dict.fromkeys(regions, 0.0)
        for name, ranking in (("dense", self.dense), (self.lexical_kind, self.lexical)):
            if not ranking:  # e.g. neither words nor latent terms shared: no place to give
                continue
            seen: dict[str, int] = {}
            for row in ranking:
                region = region_of.get(row)
                if region is not None and region not in seen:
                    seen[region] = len(seen)
            for region in places:  # regions without a unit in this ranking come after those with one
                places[region] += RRF_WEIGHTS[name] / (RRF_K + seen.get(region, len(seen)) + 1)
        return places
