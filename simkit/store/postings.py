"""Postings added into a score array, and capped postings for latent terms.

BM25 (:mod:`simkit.store.lexical`) and latent terms (:mod:`simkit.store.latent`) keep, per term, a
contiguous slice of postings (row, weight) in compressed-sparse-column form; a query adds its terms'
postings into one score array (:func:`add_postings`). An English query has up to 256 latent terms,
many of them common, and on a large index they have hundreds of thousands of postings each. With a
*cap* ``C``, a term with more than ``C`` postings has them written in descending weight order (impact
order), and a query reads only a prefix of them (about ``C``, more for its heavier terms:
:func:`capped_depths`): the rows where the term weighs most. A row outside them loses that term's share
of its score. Terms with at most ``C`` postings keep their order and are
read whole, so an index whose terms all have at most ``C`` postings ranks exactly as without a cap.
The cap is recorded with the postings (the manifest's ``latent_terms.postings_cap``); postings written
without one are read whole. BM25 is not capped: a Chinese query has a few dozen terms, all read in
~5 ms at a million units. What the cap saves and changes: docs/method/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

LATENT_CAP = 10_000
"""Postings a latent term contributes at most (rows with its strongest activations)."""


def order_long_postings(indptr: np.ndarray, weights: np.ndarray, rows: np.ndarray, cap: int) -> int:
    """Sort, in place, the postings of every term with more than ``cap`` of them by descending weight
    (ties in their order); returns how many terms were sorted. ``weights`` and ``rows`` may be memory-mapped."""
    lengths = np.diff(np.asarray(indptr))
    long_terms = np.flatnonzero(lengths > cap)
    for term in long_terms.tolist():
        start, end = int(indptr[term]), int(indptr[term + 1])
        order = np.argsort(-np.asarray(weights[start:end], dtype=np.float32), kind="stable")
        weights[start:end] = np.asarray(weights[start:end])[order]
        rows[start:end] = np.asarray(rows[start:end])[order]
    return len(long_terms)


def add_postings(scores: np.ndarray, indptr: np.ndarray, rows: np.ndarray, weights: np.ndarray,
                 terms: Iterable[tuple[int, float, int | None]]) -> np.ndarray:
    """Add ``factor * weight`` of each term's postings (its first ``depth``; all when None) into ``scores``.

    ``terms`` are ``(term, factor, depth)``; a term names a row at most once, so the postings are added
    in place, term after term (per row, the same additions in the same order as summing all postings).
    Raises IndexError when a posting names a row past ``scores``.
    """
    for term, factor, depth in terms:
        start, end = int(indptr[term]), int(indptr[term + 1])
        if depth is not None:
            end = min(end, start + depth)
        if start >= end:
            continue
        values = np.asarray(weights[start:end], dtype=np.float32)
        if factor != 1.0:
            values = np.float32(factor) * values
        scores[rows[start:end]] += values
    return scores


def capped_depths(lengths: np.ndarray, weights: np.ndarray, cap: int | None) -> list[int | None]:
    """How many postings of each of a query's terms to read: all of a term with at most ``cap`` (in row
    order, so read whole); of a longer one (impact-ordered) ``cap`` scaled by the term's weight against the
    query's mean weight, between ``cap / 4`` and ``4 * cap``. The budget stays about ``cap`` a term, spent
    where a term weighs most (measured against one depth for all: docs/method/benchmarks.md)."""
    if cap is None or not len(weights):
        return [None] * len(lengths)
    mean = float(np.mean(weights)) or 1.0
    depths: list[int | None] = []
    for length, weight in zip(np.asarray(lengths).tolist(), np.asarray(weights, dtype=np.float64).tolist()):
        depths.append(None if length <= cap else int(min(4 * cap, max(cap // 4, cap * weight / mean))))
    return depths
