"""FAISS vector index: inner product over L2-normalized vectors (cosine similarity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .config import configure_threads, thread_count
from .errors import IndexLoadError


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


def save_vector_index(index: Any, path: Path) -> None:
    _faiss().write_index(index, str(path))


def load_vector_index(path: Path) -> Any:
    faiss = _faiss()
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexLoadError(f"{path}: FAISS index cannot be read; rebuild the index") from exc


def search_vectors(index: Any, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` (scores, rows) for one query vector; rows of -1 are dropped."""
    n = min(n, int(index.ntotal))
    if n <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), n)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def vector_at(index: Any, row: int) -> np.ndarray:
    """The stored vector of one row."""
    return np.asarray(index.reconstruct(int(row)), dtype=np.float32)
