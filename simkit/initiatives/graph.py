"""The similarity graph of units and its communities: kNN in blocks, best hits per region, Leiden.

The method and why: :mod:`simkit.initiatives.clustering` and docs/method/initiatives.md. The
agglomerative and HDBSCAN baselines (measured by ``scripts/eval_clusters.py``) need the
``baselines`` extra (scikit-learn).
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simkit.errors import QueryError
from simkit.initiatives.units import UnitTable

METHODS = ("besthit-leiden", "rbh-leiden", "knn-leiden", "knn-components", "agglomerative", "hdbscan")
DEFAULT_METHOD = "besthit-leiden"
DEFAULT_K = 30
DEFAULT_QUANTILE = 0.9
DEFAULT_RESOLUTION = 1.0
DEFAULT_STRICT = 0.99


def cross_region_cosines(vectors: np.ndarray, regions: Sequence[str], sample: int = 2000,
                         seed: int = 0) -> np.ndarray:
    """The cosines between the pairs of different regions among a seeded random sample of ``sample`` rows:
    the background that :func:`close_threshold` takes its quantiles of."""
    n = len(regions)
    if n < 2:
        return np.zeros(0, np.float32)
    pick = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))
    block = vectors[pick]
    sims = block @ block.T
    names = np.asarray(regions, dtype=object)[pick]
    other = names[:, None] != names[None, :]
    return sims[np.triu(other, 1)]


def close_threshold(vectors: np.ndarray, regions: Sequence[str], quantile: float = DEFAULT_QUANTILE,
                    sample: int = 2000, seed: int = 0) -> float:
    """The cosine above which two units of different regions count as the same kind of measure.

    The ``quantile`` of cosines between a seeded random sample of units of different regions.
    """
    return background_quantile(cross_region_cosines(vectors, regions, sample, seed), quantile)


def background_quantile(background: np.ndarray, quantile: float) -> float:
    """The ``quantile`` of cross-region cosines from :func:`cross_region_cosines` (1.0 when there are none):
    :func:`close_threshold` for several quantiles of one sample."""
    return float(np.quantile(background, quantile)) if background.size else 1.0


EXACT_KNN_MAX = 50_000  # above this many units the kNN graph comes from an IVF index (see knn)


def knn(vectors: np.ndarray, k: int, block: int = 4096, *,
        exact_max: int = EXACT_KNN_MAX) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by inner product, searched in blocks.

    Exact (``IndexFlatIP``) up to ``exact_max`` rows: O(n²·d) time (timed in
    docs/method/initiatives.md, Scale). Above it, an inverted-file index with half-precision codes
    (``IVF…,SQfp16``: half the memory of a float copy), 4·√n lists trained with FAISS's fixed k-means
    seed on an evenly spaced sample, 32 lists probed, which finds nearly all the close neighbours the
    graph keeps for a fraction of the time (``scripts/bench_cluster.py`` reports both). Rows a list
    search misses come back as -1 and are dropped by the graph.
    """
    import faiss

    n, d = vectors.shape
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
    else:
        lists = max(1, min(int(4 * np.sqrt(n)), n // 39))  # FAISS wants ≥ 39 training points per list
        # Half-precision codes: the list copy of a million 384-d vectors takes 0.7 GB instead of 1.5.
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(d), d, lists, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[:: max(1, n // (lists * 39))])
        index.nprobe = min(32, lists)
    index.add(vectors)
    sims = np.empty((n, k), np.float32)
    nbrs = np.empty((n, k), np.int64)
    for start in range(0, n, block):
        s, i = index.search(vectors[start:start + block], k + 1)
        for r in range(len(i)):  # drop the row itself wherever it ranks (duplicates may tie with it)
            own = np.where(i[r] == start + r)[0]
            keep = np.delete(np.arange(k + 1), own[0] if len(own) else k)
            sims[start + r], nbrs[start + r] = s[r, keep], i[r, keep]
    return sims, nbrs


GRAPH_BLOCK = 65_536  # rows of the kNN table handled at a time by best_hits and edges_above


def best_hits(sims: np.ndarray, nbrs: np.ndarray, regions: Sequence[str]) -> np.ndarray:
    """Mask of each row's best neighbour per other region (neighbours sorted by decreasing cosine).

    Worked out in blocks of rows, so that its temporary arrays stay a few hundred MB at a million units.
    """
    n, k = nbrs.shape
    codes = np.unique(np.asarray(regions, dtype=object), return_inverse=True)[1].astype(np.int64)
    width = int(codes.max()) + 1 if n else 1
    mask = np.zeros((n, k), dtype=bool)
    for start in range(0, n, GRAPH_BLOCK):
        block = nbrs[start:start + GRAPH_BLOCK]
        neighbour = codes[np.maximum(block, 0)]
        other = (neighbour != codes[start:start + len(block), None]) & (block >= 0)
        key = np.arange(len(block))[:, None] * width + neighbour
        flat = np.flatnonzero(other)
        _, first = np.unique(key.ravel()[flat], return_index=True)  # first = best: rows are sorted by cosine
        mask[start:start + len(block)].ravel()[flat[first]] = True
    return mask


def reciprocal(mask: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    """The entries of a best-hit ``mask`` whose neighbour has the row as its own best hit too (reciprocal)."""
    n, k = nbrs.shape
    flat = np.flatnonzero(mask.ravel())
    src = flat // k
    dst = nbrs.ravel()[flat].astype(np.int64)
    keep = (dst >= 0) & np.isin(dst * n + src, src * n + dst)
    out = np.zeros(n * k, dtype=bool)
    out[flat[keep]] = True
    return out.reshape(n, k)


def edges_above(sims: np.ndarray, nbrs: np.ndarray, tau: float,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Undirected kNN edges with cosine ≥ ``tau`` (among ``mask``), deduplicated and sorted: (pairs, cosines).

    Pairs are int64 ``(a, b)`` with ``a < b``, in order of ``a`` then ``b``; of a pair found from both
    ends, the cosine of the first row's listing is kept. Rows are read in blocks.
    """
    n, k = nbrs.shape
    found_a, found_b, found_w = [], [], []
    for start in range(0, n, GRAPH_BLOCK):
        dst = nbrs[start:start + GRAPH_BLOCK]
        src = np.arange(start, start + len(dst))[:, None]
        keep = (sims[start:start + len(dst)] >= tau) & (dst >= 0) & (dst != src)
        if mask is not None:
            keep &= mask[start:start + len(dst)]
        rows, cols = np.nonzero(keep)
        ends = dst[rows, cols]
        found_a.append(np.minimum(rows + start, ends))
        found_b.append(np.maximum(rows + start, ends))
        found_w.append(sims[start:start + len(dst)][rows, cols])
    if not found_a or not sum(len(a) for a in found_a):
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    a, b, w = np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_w)
    del found_a, found_b, found_w
    key = a.astype(np.int64) * n + b
    del a, b
    order = np.argsort(key, kind="stable")
    key, w = key[order], w[order]
    del order
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, w = key[first], w[first]
    return np.stack([key // n, key % n], axis=1), w


def _igraph_graph(n: int, pairs: np.ndarray) -> Any:
    """An undirected igraph graph of ``n`` vertices and the edges ``pairs``, in that order.

    The edges reach igraph through a temporary edge-list file that its C reader parses: a Python list
    of pairs costs ~130 bytes an edge (3.4 GB for the 26 M edges of a million units), the file route
    only igraph's own ~48 (docs/method/initiatives.md, Scale).
    """
    import igraph

    with tempfile.TemporaryDirectory(prefix="simkit-graph-") as scratch:
        path = Path(scratch) / "edges.txt"
        with path.open("w", encoding="ascii") as handle:
            for start in range(0, len(pairs), 1 << 20):
                chunk = pairs[start:start + (1 << 20)].tolist()
                handle.write("".join(f"{a} {b}\n" for a, b in chunk))
        graph = igraph.Graph.Read_Edgelist(str(path), directed=False)
    if graph.vcount() < n:
        graph.add_vertices(n - graph.vcount())
    return graph


def secondary_memberships(labels: np.ndarray, pairs: np.ndarray, at_least: int) -> dict[int, list[int]]:
    """For each item, the communities other than its own that it has at least ``at_least`` edges into
    (items and each item's communities in increasing order)."""
    labels = np.asarray(labels, dtype=np.int64)
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    la, lb = labels[a], labels[b]
    across = (la != lb) & (la >= 0) & (lb >= 0)
    items = np.concatenate([a[across], b[across]])
    into = np.concatenate([lb[across], la[across]])
    width = int(labels.max()) + 1 if len(labels) else 1
    keys, counts = np.unique(items * width + into, return_counts=True)
    found: dict[int, list[int]] = {}
    for key in keys[counts >= at_least].tolist():
        found.setdefault(key // width, []).append(key % width)
    return found


def attached_memberships(labels: np.ndarray, orphan: np.ndarray, anchored: np.ndarray, sims: np.ndarray,
                         nbrs: np.ndarray, mask: np.ndarray, threshold: float) -> dict[int, list[int]]:
    """For each ``orphan`` item, the communities (``labels``) of its best hits in other regions (``mask``)
    whose cosine reaches ``threshold`` and that are ``anchored`` (their own community is kept); items and
    each item's communities in increasing order.

    Leiden leaves out a sentence with no reciprocal edge even when its best match in another region is
    close and sits in a community: the assignment of leftover points to their nearest cluster that
    density clustering makes (HDBSCAN's approximate membership), limited to close best hits.
    """
    labels = np.asarray(labels, dtype=np.int64)
    found: dict[int, list[int]] = {}
    orphans = np.flatnonzero(orphan)
    width = int(labels.max()) + 1 if len(labels) else 1
    for start in range(0, len(orphans), GRAPH_BLOCK):
        rows = orphans[start:start + GRAPH_BLOCK]
        dst = nbrs[rows]
        keep = mask[rows] & (sims[rows] >= threshold) & (dst >= 0)
        keep &= anchored[np.maximum(dst, 0)]
        r, c = np.nonzero(keep)
        for key in np.unique(rows[r].astype(np.int64) * width + labels[dst[r, c]]).tolist():
            found.setdefault(key // width, []).append(key % width)
    return found


def _leiden(n: int, pairs: np.ndarray, weights: np.ndarray, seed: int = 0, resolution: float = 1.0) -> np.ndarray:
    import igraph

    graph = _igraph_graph(n, pairs)
    previous = random.getstate()
    igraph.set_random_number_generator(random.Random(seed))
    try:
        part = graph.community_leiden(objective_function="modularity", weights=weights.tolist(),
                                      n_iterations=-1, resolution=resolution)
    finally:
        igraph.set_random_number_generator(random)
        random.setstate(previous)
    return np.asarray(part.membership, dtype=np.int64)


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _agglomerative(vectors: np.ndarray, pairs: np.ndarray, tau: float) -> np.ndarray:
    from scipy.sparse import coo_matrix

    try:
        from sklearn.cluster import AgglomerativeClustering
    except ImportError:  # an optional extra: the baselines only
        raise QueryError("method 'agglomerative' needs scikit-learn; pip install 'simkit[baselines]'") from None

    n = len(vectors)
    if n < 2:
        return np.zeros(n, np.int64)
    connectivity = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr() if len(
        pairs) else None
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=1.0 - tau, connectivity=connectivity)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the number of connected components … is > 1": expected
        return model.fit_predict(vectors).astype(np.int64)


def _hdbscan(vectors: np.ndarray) -> np.ndarray:
    try:
        from sklearn.cluster import HDBSCAN
    except ImportError:  # an optional extra: the baselines only
        raise QueryError("method 'hdbscan' needs scikit-learn; pip install 'simkit[baselines]'") from None

    if len(vectors) < 3:
        return np.full(len(vectors), -1, np.int64)
    return HDBSCAN(min_cluster_size=2, min_samples=1, metric="cosine", copy=True).fit_predict(
        vectors.astype(np.float64)).astype(np.int64)


def group_units(table: UnitTable, *, method: str = DEFAULT_METHOD, k: int = DEFAULT_K,
                quantile: float = DEFAULT_QUANTILE, seed: int = 0,
                resolution: float = DEFAULT_RESOLUTION,
                strict: float = DEFAULT_STRICT, overlap: int = 0,
                attach: float | None = None) -> tuple[list[list[int]], float]:
    """Groups of ≥ 2 units (indices into ``table``), in a canonical order, and the threshold used.

    ``resolution`` is Leiden's modularity resolution (higher: smaller communities). ``rbh-leiden`` links
    reciprocal best hits above the ``quantile`` threshold and one-way best hits only above the ``strict``
    quantile's. With ``overlap`` n > 0 an item also joins every other community it has at least n graph
    edges into (:func:`secondary_memberships`), so groups may share items. With ``attach`` (a quantile, for
    the best-hit methods) an item left in no group of two or more joins the groups of its best hits in other
    regions whose cosine reaches that quantile's threshold (:func:`attached_memberships`).
    """
    if method not in METHODS:
        raise QueryError(f"unknown clustering method {method!r}; use one of {', '.join(METHODS)}")
    n = len(table)
    background = cross_region_cosines(table.vectors, table.regions, seed=seed)
    tau = background_quantile(background, quantile)
    if n < 2:
        return [], tau
    sims, nbrs = knn(table.vectors, k)
    mask = best_hits(sims, nbrs, table.regions) if method in ("besthit-leiden", "rbh-leiden") else None
    best_hit_mask = mask  # every best hit per other region (rbh-leiden narrows `mask` below)
    if method == "rbh-leiden" and mask is not None:
        very_close = background_quantile(background, strict)
        mask = reciprocal(mask, nbrs) | (mask & (sims >= very_close))
    pairs, weights = edges_above(sims, nbrs, tau, mask)
    if method in ("besthit-leiden", "rbh-leiden", "knn-leiden"):
        shifted = (weights - tau) / max(1e-6, 1.0 - tau) + 1e-3
        labels = _leiden(n, pairs, shifted, seed, resolution)
    elif method == "knn-components":
        labels = _components(n, pairs)
    elif method == "agglomerative":
        labels = _agglomerative(table.vectors, edges_above(sims, nbrs, -1.0)[0], tau)
    else:
        labels = _hdbscan(table.vectors)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        if label >= 0:
            groups.setdefault(label, []).append(i)
    if overlap > 0 and method in ("besthit-leiden", "rbh-leiden", "knn-leiden") and len(pairs):
        for i, extra in secondary_memberships(labels, pairs, overlap).items():
            for label in extra:
                groups[label].append(i)
    if attach is not None and best_hit_mask is not None:
        member = np.zeros(n, dtype=bool)
        for g in groups.values():
            if len(g) >= 2:
                member[g] = True
        anchored = np.isin(labels, [label for label, g in groups.items() if len(g) >= 2])
        threshold = background_quantile(background, attach)
        for i, extra in attached_memberships(labels, ~member, anchored, sims, nbrs, best_hit_mask, threshold).items():
            for label in extra:
                groups[label].append(i)
    kept = [sorted(g) for g in groups.values() if len(g) >= 2]
    kept.sort(key=lambda g: (-len(g), g[0]))
    return kept, tau
