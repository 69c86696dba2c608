"""FAISS vector index: inner product over L2-normalized vectors (cosine similarity), and the top-n
selection that the sparse rankings (BM25, latent terms) share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from simkit.config import configure_threads, thread_count
from simkit.errors import IndexLoadError
from simkit.fileio import write_failure


def _faiss() -> Any:
    configure_threads()
    import faiss

    faiss.omp_set_num_threads(thread_count())
    return faiss


def build_vector_index(vectors: np.ndarray) -> Any:
    """An exact inner-product index over ``vectors`` (rows must be L2-normalized)."""
    faiss = _faiss()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(vectors)
    return index


def describe(index: Any) -> dict[str, Any]:
    """What the manifest records about a FAISS index."""
    return {"type": type(index).__name__, "metric": "inner_product", "ntotal": int(index.ntotal),
            "dimension": int(index.d)}


def save_vector_index(index: Any, path: Path, checkpoint: Callable[[str], None] | None = None, *,
                      split: bool = False) -> None:
    """Write the index in FAISS's own format, then run ``checkpoint("write-faiss")``.

    With ``split`` (fault-injection tests only) the index is serialized in memory and
    ``checkpoint("write-faiss")`` runs with half of the file written; that costs a copy of
    the whole index, so a normal write goes straight from FAISS to the file. A failed write
    (FAISS raises ``RuntimeError``) raises an ``OSError`` naming ``path``.
    """
    if not split or checkpoint is None:
        try:
            _faiss().write_index(index, str(path))
        except (RuntimeError, OSError) as exc:
            raise write_failure(path, exc) from exc
        if checkpoint is not None:
            checkpoint("write-faiss")
        return
    data = _faiss().serialize_index(index)
    half = len(data) // 2
    try:
        with path.open("wb") as handle:
            handle.write(memoryview(data)[:half])
            handle.flush()
            checkpoint("write-faiss")
            handle.write(memoryview(data)[half:])
    except OSError as exc:
        raise write_failure(path, exc) from exc


def load_vector_index(path: Path) -> Any:
    faiss = _faiss()
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexLoadError(f"{path}: FAISS index cannot be read; rebuild the index") from exc


def search_vectors(index: Any, query: np.ndarray, n: int,
                   allowed_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` (scores, rows) for one query vector, best first; rows of -1 are dropped.

    With ``allowed_rows`` (vector rows, any order; out-of-range ones are ignored) only those rows
    compete, inside the FAISS search: up to ``n`` allowed rows come back even when all of them rank
    below the first ``n`` rows of the whole index. ``None`` allows every row.
    """
    if allowed_rows is None:
        return _search(index, query, n)
    allowed = _valid_rows(allowed_rows, int(index.ntotal))
    if len(allowed) == int(index.ntotal):
        return _search(index, query, n)
    n = min(n, len(allowed))
    if n <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    faiss = _faiss()
    if isinstance(index, faiss.IndexFlat):
        # A flat index scores only the listed rows for an IDSelectorArray (cost grows with the
        # allowed set, not the index); other index types would test every row against the array.
        selector = faiss.IDSelectorArray(len(allowed), faiss.swig_ptr(allowed))
    else:
        bitmap = np.zeros((int(index.ntotal) + 7) // 8, np.uint8)
        np.bitwise_or.at(bitmap, allowed >> 3, np.left_shift(1, allowed & 7).astype(np.uint8))
        selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))  # n counts bytes
    # The selectors point into ``allowed`` / ``bitmap`` without copying: both stay alive until
    # the search returns.
    return _search(index, query, n, faiss.SearchParameters(sel=selector))


def _search(index: Any, query: np.ndarray, n: int, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
    n = min(n, int(index.ntotal))
    if n <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    matrix = np.ascontiguousarray(np.asarray(query).reshape(1, -1), dtype=np.float32)
    scores, rows = index.search(matrix, n) if params is None else index.search(matrix, n, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def _valid_rows(rows: np.ndarray, ntotal: int) -> np.ndarray:
    """Distinct in-range rows, sorted, as contiguous int64."""
    rows = np.unique(np.asarray(rows, dtype=np.int64).ravel())
    return np.ascontiguousarray(rows[(rows >= 0) & (rows < ntotal)])




def top_scored_rows(scores: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The top ``n`` rows of a full score vector with a score above 0, as ``(scores, rows)``, best first.

    ``allowed`` (a boolean mask over rows) is applied before the top ``n`` are taken. Ties keep row
    order. Used by the sparse rankings, which score every row at once.
    """
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != scores.shape:
            raise ValueError(f"allowed mask has shape {allowed.shape}, expected {scores.shape}")
        scores = np.where(allowed, scores, 0.0).astype(np.float32)
    candidates = np.flatnonzero(scores > 0)
    if n <= 0 or not len(candidates):
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    if len(candidates) > n:
        candidates = np.sort(candidates[np.argpartition(-scores[candidates], n - 1)[:n]])
    rows = candidates[np.argsort(-scores[candidates], kind="stable")].astype(np.int64)
    return scores[rows], rows
