"""The constants of hybrid ranking, in one frozen value: what ``simkit eval --folds`` chooses among.

Every number here was chosen by k-fold cross-validation over labelled queries (the grid and the
held-out-fold figures: docs/method/cross-validation.md); :data:`DEFAULT_SETTINGS` is what search uses
unless a caller passes other settings (``SimkitIndex.search(..., settings=...)``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from simkit.errors import QueryError

EVIDENCE_LEXICAL = ("unit", "sentence")
TRANSLATION_ALTERNATIVES = ("words", "best")


@dataclass(frozen=True)
class SearchSettings:
    """How hybrid search fuses its rankings and orders a region's units.

    - ``rrf_k``: the constant of reciprocal-rank fusion, ``weight / (rrf_k + rank + 1)``.
    - ``lexical_weight``: the BM25 ranking's weight against the dense ranking's 1.
    - ``latent_weight``: for a cross-lingual query (English), the weight of its latent-term
      ranking in place of BM25 when regions are ranked; 0 ranks such a query by the dense ranking alone.
    - ``evidence_sentence``: a unit's evidence score is ``evidence_sentence`` × its best sentence's
      cosine + the rest × its own cosine.
    - ``dense_evidence_sentence``: the same share in dense mode (cross-validated on dense search alone).
    - ``evidence_lexical_weight``: the weight of the lexical (or latent-term) rank among a region's units
      against the evidence score's rank when a region's units are ordered; 0 orders them by evidence alone.
    - ``evidence_lexical``: ``unit`` ranks a region's units by their BM25 score; ``sentence`` by their best
      sentence's share of the query's terms (weighted by inverse document frequency).
    - ``region_support``: in hybrid mode a region scores its places in the rankings (by its best unit
      there) plus this share of its further units' reciprocal ranks; 0 ranks regions by their best units.
    - ``latent_evidence``: whether an English query's latent-term ranks take part in ordering a region's
      units (with ``evidence_lexical_weight``).
    - ``translation_weight``: for a cross-lingual query (English), the weight of the BM25 ranking of
      its dictionary translation (:mod:`simkit.search.translation`); 0 leaves it out.
    - ``translation_alternatives``: ``words`` scores the translation as one query of all its words; ``best``
      scores each English phrase by its best-matching translation only (a structured query: a phrase with
      five translations counts once).
    - ``translation_evidence``: whether that translated ranking takes part in ordering a region's units
      (fused with the latent-term ranks when both do).
    - ``translation_fallback``: whether an English word that begins no gloss takes the words of the glosses
      it ends (their head; :meth:`simkit.search.translation.GlossTable.translate`).
    - ``problem_units_last``: whether, in every mode, a region's units from its problems section (role
      ``problem``: 存在问题/不足, what was *not* done) follow its other units, so that a shortcoming sharing
      the query's words is not shown first as what the region did (still listed; ``--role problem``
      searches them alone).
    """

    rrf_k: int = 20
    lexical_weight: float = 2.0
    latent_weight: float = 1.0
    evidence_sentence: float = 0.5
    dense_evidence_sentence: float = 0.75
    evidence_lexical_weight: float = 2.0
    evidence_lexical: str = "unit"
    latent_evidence: bool = True
    region_support: float = 0.0
    translation_weight: float = 2.0
    translation_evidence: bool = True
    translation_alternatives: str = "best"
    translation_fallback: bool = False
    problem_units_last: bool = True

    def __post_init__(self) -> None:
        weights = (self.lexical_weight, self.latent_weight, self.evidence_lexical_weight, self.region_support,
                   self.translation_weight)
        if self.rrf_k < 0 or min(weights) < 0:
            raise QueryError(f"search settings must not be negative: {self.to_dict()}")
        for name in ("evidence_sentence", "dense_evidence_sentence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise QueryError(f"{name} must be in [0, 1] (got {getattr(self, name)})")
        if self.translation_alternatives not in TRANSLATION_ALTERNATIVES:
            raise QueryError(f"translation_alternatives must be one of {', '.join(TRANSLATION_ALTERNATIVES)} "
                             f"(got {self.translation_alternatives!r})")
        if self.evidence_lexical not in EVIDENCE_LEXICAL:
            raise QueryError(f"evidence_lexical must be one of {', '.join(EVIDENCE_LEXICAL)} "
                             f"(got {self.evidence_lexical!r})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        """Settings from :meth:`to_dict` output; unknown keys are a :class:`QueryError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise QueryError(f"unknown search settings {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(cls(), **data)

    def weight(self, ranking: str) -> float:
        """The fusion weight of a ranking named ``dense``, ``lexical``, ``latent`` or ``translated``."""
        return {"dense": 1.0, "lexical": self.lexical_weight, "latent": self.latent_weight,
                "translated": self.translation_weight}[ranking]


DEFAULT_SETTINGS = SearchSettings()
