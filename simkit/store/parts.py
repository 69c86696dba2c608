"""The loaded parts of one index version, handed to search, initiatives and peers.

:class:`IndexParts` opens a version (checking its files' sizes, or their checksums on request), its
SQLite store, FAISS vectors and the memory-mapped sentence vectors and latent terms; the BM25 index
is read on first use. Nothing here queries: :class:`simkit.search.engine.Search`,
:class:`simkit.initiatives.views.Initiatives` and :class:`simkit.initiatives.peers.Peers` receive
an ``IndexParts`` and work on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from simkit.arguments import verify_mode
from simkit.errors import IndexLoadError
from simkit.store.database import Store
from simkit.store.latent import LatentIndex
from simkit.store.layout import (
    STORE,
    VECTORS,
    IndexVersion,
    VersionGone,
    current_name,
    hold_version,
    load_version,
    read_current,
    resolve_current,
    verify_files,
)
from simkit.store.lexical import LexicalIndex
from simkit.store.manifest import Manifest
from simkit.store.sentences import SentenceIndex
from simkit.store.vectors import (
    CALIBRATION_FILE,
    calibration_rows,
    configure_loaded,
    load_calibration_sample,
    load_vector_index,
)


class IndexParts:
    """One opened index version: its manifest, store, vectors, and optional sentence/latent/lexical parts.

    ``vectors`` is the FAISS index; ``sentences`` and ``latent_terms`` are None for a version built
    without them. Parts read on first use (``lexical``, the clustering) need the version's directory:
    while the handle is open it holds a shared lock on the version (:func:`simkit.store.layout.hold_version`),
    so a rebuild does not prune it; :meth:`close` releases it.
    """

    def __init__(self, root: Path, version: IndexVersion, store: Store, vectors: Any,
                 sentences: SentenceIndex | None, latent_terms: LatentIndex | None,
                 hold: BinaryIO | None = None) -> None:
        self.root = root
        self.version = version
        self.store = store
        self.vectors = vectors
        self.sentences = sentences
        self.latent_terms = latent_terms
        self._lexical: LexicalIndex | None = None
        self._hold = hold

    @classmethod
    def open(cls, root: Path, *, version: str | None = None, verify: bool | str = True) -> IndexParts:
        """Open the current version of the index at ``root`` (or the version named ``version``).

        ``verify`` (see :func:`simkit.arguments.verify_mode`): True or ``"sizes"`` checks that every file
        the manifest lists is there with its size (cheap); ``"checksums"`` also hashes them (reads every
        byte: what ``simkit verify`` does); False opens unchecked.

        The version is locked against pruning before anything of it is read; if a rebuild removed
        the current version between reading ``CURRENT`` and taking the lock, the new current one is
        opened instead.
        """
        mode = verify_mode("verify", verify)
        hold = None
        for attempt in range(5):
            name = version if version is not None else resolve_current(root)
            try:
                hold = hold_version(root, name)
                break
            except VersionGone:
                if version is not None or attempt == 4 or read_current(root) == name:
                    raise
        try:
            return cls._open_held(root, name, mode, hold)
        except BaseException:
            if hold is not None:
                hold.close()
            raise

    @classmethod
    def _open_held(cls, root: Path, name: str, mode: str, hold: BinaryIO | None) -> IndexParts:
        found = load_version(root, name)
        if mode != "none":
            verify_files(found, checksums=mode == "checksums")
        manifest = found.manifest
        store = Store(found.path / STORE)
        try:
            vectors = load_vector_index(found.path / VECTORS)
            configure_loaded(vectors, manifest.index)
            total = int(vectors.ntotal)
            expected = manifest.counts.get("vectors")
            if total != expected:
                raise IndexLoadError(f"{found.path / VECTORS}: holds {total} vectors but the manifest says "
                                     f"{expected}; rebuild the index")
            sentences = SentenceIndex(found.path, total) if SentenceIndex.present(found.path) else None
            latent = (LatentIndex.load(found.path, total, _cap(manifest.latent_terms.get("postings_cap")))
                      if manifest.latent_terms and LatentIndex.present(found.path) else None)
        except BaseException:
            store.close()
            raise
        return cls(root, found, store, vectors, sentences, latent, hold)

    @property
    def manifest(self) -> Manifest:
        return self.version.manifest

    @property
    def total(self) -> int:
        """The number of indexed units (vector rows)."""
        return int(self.vectors.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.vectors.d)

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index over Chinese words (read on first use: only lexical and hybrid searches need it)."""
        if self._lexical is None:
            self.require_version_dir()
            self._lexical = LexicalIndex.load(self.version.path)
        return self._lexical

    @property
    def lexical_loaded(self) -> bool:
        """Whether the BM25 index has been read (slow in a fresh process, so a dense search avoids it)."""
        return self._lexical is not None

    def calibration_sample(self) -> np.ndarray:
        """The unit vectors of the score-calibration sample (:func:`simkit.store.vectors.calibration_rows`):
        read from the version's ``calibration_sample.npy``, or from the vector index for a version written
        before that file."""
        if CALIBRATION_FILE not in self.manifest.files:
            return self.vectors_at(calibration_rows(self.total))
        self.require_version_dir()
        return load_calibration_sample(self.version.path, self.total, self.dimension)

    def vectors_at(self, rows: Any) -> np.ndarray:
        """The unit vectors at ``rows`` (float32, one row each, in that order)."""
        return self.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def all_vectors(self) -> np.ndarray:
        """Every unit vector, row by row (reads the whole FAISS index)."""
        return self.vectors.reconstruct_n(0, self.total).astype(np.float32)

    @property
    def is_current(self) -> bool:
        """Whether ``CURRENT`` still names this version."""
        return current_name(self.root) == self.version.name

    def require_version_dir(self) -> None:
        """Parts read on first use need the version's directory, which a later rebuild may have pruned."""
        if not self.version.path.is_dir():
            raise IndexLoadError(f"{self.version.path}: this version was removed by a later rebuild or rollback "
                                 "(only the --keep newest are kept); call index.reload() or open the index again")

    def close(self) -> None:
        """Close the store and release the version (a later rebuild may prune it)."""
        self.store.close()
        if self._hold is not None:
            self._hold.close()
            self._hold = None


def _cap(value: Any) -> int | None:
    """A recorded postings cap: a whole number of at least 1, else None (postings read whole)."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None
