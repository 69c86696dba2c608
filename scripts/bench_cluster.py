"""Clustering time and peak memory on a generated corpus; prints JSON.

    python scripts/bench_cluster.py --index indexes/demo [--units 100000] [--labels]

The corpus is made of the index's real unit vectors: each synthetic region reports a random 60-90 %
of the real units, each one perturbed (blended 15 % with another real unit, plus Gaussian noise, so
that its cosine to its source is about 0.95, like e5's near-duplicates), so initiatives recur across
regions the way real reports make them recur. Timed: the close threshold, the exact kNN search
(FAISS, in blocks), the best-hit graph and Leiden (``group_units``); with ``--labels`` also the
labels (jieba over every clustered unit's text). The clustering runs in a fresh process that holds
only the vectors (float32) and region names, as ``simkit clusters`` does; memory is that process's
peak resident set size (``ru_maxrss``), beside what it held before clustering and the vectors' size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from simkit.api import open_index
from simkit.initiatives.graph import (
    DEFAULT_K,
    DEFAULT_QUANTILE,
    EXACT_KNN_MAX,
    best_hits,
    close_threshold,
    edges_above,
    knn,
)
from simkit.initiatives.units import UnitTable


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(table: UnitTable, units: int, seed: int = 0) -> UnitTable:
    rng = np.random.default_rng(seed)
    base = table.vectors
    n, d = base.shape
    ids, regions, years, roles, texts, parts = [], [], [], [], [], []
    region = 0
    while len(ids) < units:
        take = np.sort(rng.choice(n, size=int(n * rng.uniform(0.6, 0.9)), replace=False))
        other = rng.integers(0, n, size=len(take))
        block = 0.85 * base[take] + 0.15 * base[other]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        block += rng.normal(0, 0.3 / np.sqrt(d), size=block.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        parts.append(block.astype(np.float32))
        year = int(rng.integers(2019, 2025))
        for i in take.tolist():
            ids.append(f"r{region:05d}:{i:05d}")
            regions.append(f"region-{region:05d}")
            years.append(year)
            roles.append(table.roles[i])
            texts.append(table.texts[i])
        region += 1
    vectors = np.concatenate(parts)[:units]
    return UnitTable(ids[:units], regions[:units], years[:units], roles[:units], texts[:units], vectors,
                     list(range(units)))


def cluster(vectors: np.ndarray, regions: list[str]) -> tuple[dict[str, float], np.ndarray, int, float]:
    """The default clustering's stages, timed: (seconds per stage, Leiden labels, edges, threshold)."""
    from simkit.initiatives.graph import _leiden

    timings: dict[str, float] = {}
    t = time.perf_counter()
    tau = close_threshold(vectors, regions, DEFAULT_QUANTILE)
    timings["threshold"] = time.perf_counter() - t
    t = time.perf_counter()
    sims, nbrs = knn(vectors, DEFAULT_K)  # the default: exact up to EXACT_KNN_MAX units, IVF above
    timings["knn"] = time.perf_counter() - t
    t = time.perf_counter()
    pairs, weights = edges_above(sims, nbrs, tau, best_hits(sims, nbrs, regions))
    del sims, nbrs
    timings["graph"] = time.perf_counter() - t
    t = time.perf_counter()
    labels = _leiden(len(regions), pairs, (weights - tau) / (1 - tau) + 1e-3)
    timings["leiden"] = time.perf_counter() - t
    return timings, labels, len(pairs), tau


def child(directory: Path) -> None:
    """Cluster the vectors and regions saved in ``directory`` in this fresh process; print timings and memory."""
    vectors = np.load(directory / "vectors.npy")
    regions = json.loads((directory / "regions.json").read_text(encoding="utf-8"))
    before = rss_mb()
    timings, labels, edges, tau = cluster(vectors, regions)
    np.save(directory / "labels.npy", labels)
    json.dump({"seconds": timings, "edges": edges, "threshold": tau, "rss_before_mb": before,
               "peak_rss_mb": peak_mb()}, sys.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="An index whose unit vectors seed the corpus.")
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--labels", action="store_true", help="Also time labelling (jieba over all texts).")
    parser.add_argument("--compare-exact", action="store_true",
                        help="Also build the exact kNN graph and report the share of its edges the IVF graph has.")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    if not args.index:
        parser.error("--index is required")
    with open_index(args.index) as index:
        real = UnitTable.from_parts(index.parts)
    table = synthetic(real, args.units)
    sample = range(0, len(table), max(1, len(table) // 1000))
    to_source = float(np.mean([table.vectors[i] @ real.vectors[int(table.ids[i].split(":")[1])] for i in sample]))
    approximate = len(table) > EXACT_KNN_MAX
    # The clustering runs in a fresh process given only the vectors and regions, as `simkit clusters`
    # holds them: its peak memory is the clustering's, not the corpus generator's.
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        np.save(Path(scratch) / "vectors.npy", table.vectors)
        Path(scratch, "regions.json").write_text(json.dumps(table.regions), encoding="utf-8")
        done = subprocess.run([sys.executable, __file__, "--child", scratch], check=True, capture_output=True,
                              text=True)
        measured = json.loads(done.stdout)
        labels = np.load(Path(scratch) / "labels.npy")
    timings = measured["seconds"]
    tau = measured["threshold"]
    agreement = None
    if approximate and args.compare_exact:
        t = time.perf_counter()
        sims, nbrs = knn(table.vectors, DEFAULT_K)
        exact_sims, exact_nbrs = knn(table.vectors, DEFAULT_K, exact_max=len(table))
        timings["knn_exact_for_comparison"] = time.perf_counter() - t
        exact_pairs, _ = edges_above(exact_sims, exact_nbrs, tau, best_hits(exact_sims, exact_nbrs, table.regions))
        approx_pairs, _ = edges_above(sims, nbrs, tau, best_hits(sims, nbrs, table.regions))
        found = {tuple(p) for p in approx_pairs.tolist()}
        agreement = round(sum(tuple(p) in found for p in exact_pairs.tolist()) / max(1, len(exact_pairs)), 4)
        del exact_sims, exact_nbrs
    sizes = np.bincount(labels)
    clustering = ("threshold", "knn", "graph", "leiden")
    result = {
        "units": len(table), "regions": len(set(table.regions)), "seed_units": len(real),
        "dimension": int(table.vectors.shape[1]),
        "mean_cosine_to_source": round(to_source, 3), "k": DEFAULT_K, "quantile": DEFAULT_QUANTILE,
        "threshold": round(tau, 4), "edges": measured["edges"],
        "knn": "ivf" if approximate else "exact",
        "exact_graph_edges_found": agreement,
        "clusters_ge2": int((sizes >= 2).sum()), "largest_cluster": int(sizes.max()),
        "units_in_clusters_ge2": int(sizes[sizes >= 2].sum()),
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "seconds_total_clustering": round(sum(timings[k] for k in clustering), 2),
        "vectors_mb": round(table.vectors.nbytes / 2**20, 1),
        "clustering_process": "fresh process holding the vectors (float32) and region names only",
        "rss_before_mb": round(measured["rss_before_mb"], 1), "peak_rss_mb": round(measured["peak_rss_mb"], 1),
        "peak_above_before_mb": round(max(0.0, measured["peak_rss_mb"] - measured["rss_before_mb"]), 1),
        "threads": os.environ.get("SIMKIT_THREADS") or os.cpu_count(),
    }
    if args.labels:
        from simkit.initiatives.labels import label_groups

        groups: dict[int, list[int]] = {}
        for i, label in enumerate(labels.tolist()):
            groups.setdefault(label, []).append(i)
        kept = [g for g in groups.values() if len(g) >= 2]
        t = time.perf_counter()
        label_groups([[table.texts[i] for i in g] for g in kept], [[table.regions[i] for i in g] for g in kept])
        result["seconds"]["labels"] = round(time.perf_counter() - t, 2)
        # The corpus repeats the seed texts (cached once tokenized); real reports do not, so also time
        # jieba on the distinct seed texts: labels cost about this much per unit.
        from simkit.initiatives.labels import _words

        t = time.perf_counter()
        for text in real.texts:
            _words(text)
        result["label_ms_per_distinct_unit"] = round(1000 * (time.perf_counter() - t) / max(1, len(real)), 2)
        result["labels_process_peak_rss_mb"] = round(peak_mb(), 1)
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
