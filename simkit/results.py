"""Result types of searches, initiatives and recommendations: plain dataclasses with ``to_dict()``.

They are what the Python API returns, what ``--json`` prints and what ``simkit serve`` answers
(``to_dict()`` is the JSON contract; :func:`json_data` turns results, and lists and dicts of them, into it).
This module imports nothing else from simkit, so every layer can return them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any


def json_data(value: Any) -> Any:
    """``value`` as JSON data: a result object becomes its ``to_dict()``, in lists and dicts too.

    The one path from results to JSON, for ``--json`` (simkit/cli/render.py) and the HTTP server
    (simkit/serve/). A dataclass without ``to_dict()`` (:class:`~simkit.pipeline.build.BuildResult`) is
    taken field by field, as the ``to_dict()`` methods of the others do.
    """
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {key: json_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_data(item) for item in value]
    return value


@dataclass(frozen=True)
class Hit:
    """One matching paragraph."""

    paragraph_id: str
    document: str
    title: str | None
    year: int | None
    section: str
    text: str
    score: float
    role: str = "measure"
    boilerplate: bool = False
    similarity: float | None = None
    calibrated: float | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)
    evidence: tuple[int, int] | None = None
    original: str | None = None  # the text in its original script (a traditional-script report); same offsets

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegionResult:
    """A region that reported something similar, with its best paragraphs as evidence.

    ``score`` is the ranking score of the search mode: its best paragraph's cosine (dense) or
    BM25 score (lexical); in hybrid mode the reciprocal-rank fusion of the region's places in
    the dense and the lexical ranking, which is not its first hit's (fused unit) score.
    ``calibrated`` is the best paragraph's calibrated similarity in [0, 1] (see
    :mod:`simkit.search.calibration`).

    ``region`` is the name results group under: the region (``石狮市``), a department with its region
    (``深圳市 · 交通运输局``), or for a report whose region is unknown the report itself (its issuer or title
    and id, ``县民政局 [doc-1a2b3c4d5e]``), never grouped with another. ``region_name`` is the region alone
    (None when unknown); ``issuer_kind`` ``government``, ``department`` or ``party-government``;
    ``department`` the department's name.
    """

    region: str
    province: str | None
    score: float
    hits: list[Hit] = field(default_factory=list)
    calibrated: float | None = None
    region_name: str | None = None
    issuer_kind: str | None = None
    department: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    """Regions that reported something similar to the query, best first.

    Within a region, hits are ordered by their evidence: the unit whose best sentence
    is closest to the query comes first (fused with the lexical rank in hybrid mode), and units
    of the report's problems section (role ``problem``) after the others; ``Hit.evidence`` is that
    sentence's [start, end) in the hit's text. A region's ``score`` and ``calibrated`` come from all
    its matching units, which may include one not among the hits shown. ``rankings`` names the
    rankings that were fused: ``dense``, ``lexical`` (BM25 over words) and, in place of the
    lexical one for a cross-lingual query (English), ``translated`` (BM25 over the
    query's dictionary translation, :mod:`simkit.search.translation`) and ``latent``
    (:mod:`simkit.store.latent`). ``translated`` lists the Chinese words of that translation when it took part.
    """

    query: str
    model: str
    regions: list[RegionResult] = field(default_factory=list)
    mode: str = "dense"
    filters: dict[str, Any] = field(default_factory=dict)
    rankings: list[str] = field(default_factory=list)
    translated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``simkit search --json``."""
        return asdict(self)


@dataclass(frozen=True)
class ParagraphRecord:
    """A stored paragraph with its report's metadata."""

    id: str
    document: str
    region: str
    province: str | None
    year: int | None
    title: str | None
    section: str
    text: str
    start: int
    end: int
    kind: str
    role: str
    parent_id: str | None
    boilerplate: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InitiativeUnit:
    """A member unit of an initiative."""

    paragraph_id: str
    region: str
    year: int | None
    role: str
    text: str
    document: str = ""
    section: str = ""
    similarity: float = 0.0  # cosine to the cluster centroid
    sentence: str = ""  # at the sentence grain: the unit's sentence(s) in this initiative
    spans: list[list[int]] = field(default_factory=list)  # their [start, end) in ``text``


@dataclass(frozen=True)
class Initiative:
    """A recurring initiative: units of several reports about the same kind of measure.

    ``status`` is ``carried_out`` (every member is a carried-out measure), ``planned``
    (every member is a plan) or ``mixed``; ``region_status`` says it per region.
    ``years`` maps each region to the earliest year its reports cover the initiative.
    """

    id: str
    label: str
    keywords: list[str]
    regions: list[str]
    cohesion: float
    units: list[InitiativeUnit]
    years: dict[str, int | None] = field(default_factory=dict)
    representative: str = ""
    status: str = "carried_out"
    region_status: dict[str, str] = field(default_factory=dict)
    named_by: str = ""  # "phrase": the label is a phrase its members share; "keywords"; "" (unit grain)

    @property
    def first_year(self) -> int | None:
        known = [y for y in self.years.values() if y is not None]
        return min(known) if known else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterChanges:
    """How a clustering relates to the previous version's: which ids were kept, new, merged, split, vanished."""

    previous_version: str | None = None
    kept: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)  # {"into": id, "from": [ids]}
    split: list[dict[str, Any]] = field(default_factory=list)  # {"from": id, "into": [ids]}
    vanished: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterSet:
    """The initiatives of one index version (those spanning at least ``min_regions`` regions)."""

    version: str | None
    method: str
    params: dict[str, Any]
    clusters: list[Initiative]
    changes: ClusterChanges = field(default_factory=ClusterChanges)
    min_regions: int = 2

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``simkit clusters --json``."""
        return {"version": self.version, "method": self.method, "params": self.params,
                "min_regions": self.min_regions, "clusters": [c.to_dict() for c in self.clusters],
                "changes": asdict(self.changes)}


@dataclass(frozen=True)
class RegionMatrix:
    """Region × initiative table: ``cells`` say, for each region in an initiative, the years its reports
    cover it, its status (``carried_out``/``planned``) and its number of units."""

    version: str | None
    regions: list[str]
    initiatives: list[dict[str, Any]]  # id, label, regions (count), first_year
    cells: list[dict[str, Any]]  # region, initiative, years, status, units

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``simkit matrix --json``."""
        return asdict(self)


@dataclass(frozen=True)
class MissingInitiative:
    """An initiative that a region's peers have and the region has not."""

    initiative: Initiative
    region: str
    peers: list[str]
    closest_own_similarity: float
    relevance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The JSON of ``simkit matrix --missing --json``: :meth:`to_dict` with the initiative's fields
        taken up one level, its member units left out (they repeat every member's text) and its
        ``first_year`` added."""
        data = self.to_dict()
        initiative = data.pop("initiative")
        del initiative["units"]
        return {**initiative, "first_year": self.initiative.first_year, **data}


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


@dataclass(frozen=True)
class RegionRecommendations:
    """``simkit recommend --json``: the measures recommended to ``region``."""

    region: str
    recommendations: list[Recommendation]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegionMissing:
    """``simkit matrix --missing --json``: the initiatives ``region``'s peers have and it has not, each as its
    :meth:`MissingInitiative.summary`."""

    region: str
    missing: list[MissingInitiative]

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "missing": [m.summary() for m in self.missing]}


@dataclass(frozen=True)
class RegionInitiatives:
    """The initiatives ``region`` takes part in (``GET /regions/{region}/initiatives`` of ``simkit serve``)."""

    region: str
    initiatives: list[Initiative]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexInfo:
    """What ``simkit info`` shows: the index, its current version, model, counts, reports and the last
    rebuild's report (``last_rebuild.json``; None if the index never had one)."""

    index: str
    version: str
    model: dict[str, Any]
    counts: dict[str, Any]
    created_at: str
    documents: list[dict[str, Any]]
    last_rebuild: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``simkit info --json``."""
        return asdict(self)
