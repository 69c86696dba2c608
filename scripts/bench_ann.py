#!/usr/bin/env python
"""Recall, speed and size of the approximate vector index against exact search. Prints JSON.

    python scripts/bench_ann.py [--index DIR] [--units 1000000] [--specs IVF4096,SQ8 ...] [--queries 200]

Vectors: the real unit and evidence-sentence vectors of an index built from the example reports
(--index, default indexes/demo; built with the default model) recombined to --units rows. With
``--noise pca`` (default) a row is a random point on the segment between two real vectors (at most
--mix of the way) plus Gaussian noise shaped like the spread of the real vectors (covariance of the
real vectors times --scale²), L2-normalized; with ``--noise isotropic`` a real unit vector plus
N(0, --sigma²) per dimension (what scripts/bench_search.py generates). Queries are fresh rows of the
same generator, not in the index. Uniform random vectors are not used: they have no neighbours worth
the name and mislead about recall.

Regions: rows are dealt at random to --regions regions (≈300 units each at a million), regions to
30 provinces. A region's score is its best unit's, as in ``simkit search``.

Per spec (a FAISS factory string, ``{nlist}`` replaced by :func:`simkit.store.vectors.nlist_for`,
``auto``: what ``simkit build`` chooses), built by :func:`simkit.store.vectors.make_vector_index`
(train on a sample, add, calibrate nprobe): build seconds, bytes written, the nprobe chosen and its
calibration, then against exact search (a flat search over the float vectors):

- ``recall_units_10`` / ``recall_units_100``: share of the exact top-10 / top-100 units found in
  the approximate top-10 / top-100;
- ``recall_regions_5``: share of the exact top-5 regions (regions of the exact top units) found
  among the approximate top-5 regions (taken from the approximate top-100 units);
- ``filtered_province_recall_10`` (one province, ≈1/30 of rows) and ``filtered_region_recall_10``
  (one region) through :func:`simkit.store.vectors.search_vectors` with ``allowed_rows``, and
  ``filtered_complete``: whether every filtered search returned min(10, allowed) rows;
- ``search_ms``: p50/p95 of one query (top-100; filtered: top-10) with --threads FAISS threads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))


def real_vectors(index_dir: Path) -> np.ndarray:
    """The unit vectors and evidence-sentence vectors of the current version of ``index_dir``."""
    from simkit.store.parts import IndexParts

    parts = IndexParts.open(index_dir, verify=False)
    try:
        rows = [parts.all_vectors()]
        if parts.sentences is not None:
            rows.append(np.asarray(parts.sentences.vectors, dtype=np.float32))
        return np.concatenate(rows)
    finally:
        parts.close()


class Generator:
    """Rows recombined from real vectors (see the module docstring)."""

    def __init__(self, real: np.ndarray, *, noise: str, scale: float, mix: float, sigma: float, seed: int) -> None:
        self.real = np.ascontiguousarray(real, dtype=np.float32)
        self.noise, self.scale, self.mix, self.sigma = noise, scale, mix, sigma
        self.rng = np.random.default_rng(seed)
        deviations = self.real - self.real.mean(axis=0)
        _, singular, self.axes = np.linalg.svd(deviations, full_matrices=False)
        self.spread = (singular / np.sqrt(len(self.real))).astype(np.float32)

    def rows(self, count: int, chunk: int = 100_000) -> np.ndarray:
        out = np.empty((count, self.real.shape[1]), dtype=np.float32)
        for lo in range(0, count, chunk):
            hi = min(count, lo + chunk)
            out[lo:hi] = self._chunk(hi - lo)
        return out

    def _chunk(self, n: int) -> np.ndarray:
        first = self.rng.integers(0, len(self.real), n)
        if self.noise == "isotropic":
            x = self.real[first] + self.rng.normal(0.0, self.sigma, (n, self.real.shape[1])).astype(np.float32)
        else:
            second = self.rng.integers(0, len(self.real), n)
            w = self.rng.uniform(0.0, self.mix, (n, 1)).astype(np.float32)
            x = (1 - w) * self.real[first] + w * self.real[second]
            z = self.rng.standard_normal((n, len(self.spread))).astype(np.float32) * self.spread
            x += self.scale * (z @ self.axes)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x


def top_regions(rows: np.ndarray, region: np.ndarray, k: int) -> list[int]:
    """The first ``k`` distinct regions of ``rows`` (best first): regions ranked by their best unit."""
    seen: list[int] = []
    for row in rows:
        if row < 0:
            continue
        r = int(region[row])
        if r not in seen:
            seen.append(r)
            if len(seen) == k:
                break
    return seen


def measure(spec_name: str, vectors: np.ndarray, queries: np.ndarray, region: np.ndarray, province: np.ndarray,
            exact: np.ndarray, filtered: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
            threads: int) -> dict[str, Any]:
    import faiss

    from simkit.store.vectors import (
        VectorIndexSpec,
        make_vector_index,
        nlist_for,
        recall_at,
        save_vector_index,
        search_vectors,
    )

    spec = (VectorIndexSpec(exact_below=0) if spec_name == "auto"
            else VectorIndexSpec(exact_below=0, factory=spec_name.replace("{nlist}", str(nlist_for(len(vectors))))))
    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    started = time.perf_counter()
    index, record = make_vector_index(vectors, spec)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.faiss"
        save_vector_index(index, path)
        size = path.stat().st_size
    faiss.omp_set_num_threads(threads)
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(search_vectors(index, q, 100)[1])
        times.append(time.perf_counter() - t)
    found_rows = np.full((len(queries), 100), -1, dtype=np.int64)
    for i, rows in enumerate(found):
        found_rows[i, : len(rows)] = rows
    regions_hit = sum(len(set(top_regions(f, region, 5)) & set(top_regions(e, region, 5)))
                      for f, e in zip(found_rows, exact))
    result: dict[str, Any] = {
        "spec": spec.factory_for(len(vectors)), "build_s": round(build_s, 1), "bytes": size,
        "bytes_per_unit": round(size / len(vectors), 1),
        "nlist": record.get("nlist"), "nprobe": record.get("nprobe"), "calibration": record.get("calibration"),
        "recall_units_10": round(recall_at(found_rows[:, :10], exact[:, :10]), 4),
        "recall_units_100": round(recall_at(found_rows, exact), 4),
        "recall_regions_5": round(regions_hit / (5 * len(queries)), 4),
        "search_ms": _percentiles(times),
    }
    for label, (allowed, q_rows, truth) in zip(("province", "region"), filtered):
        hits = want = 0
        complete = True
        ftimes = []
        for q, exact_rows in zip(q_rows, truth):
            t = time.perf_counter()
            rows = search_vectors(index, q, 10, allowed)[1]
            ftimes.append(time.perf_counter() - t)
            complete &= len(rows) == min(10, len(allowed)) and bool(np.isin(rows, allowed).all())
            hits += len(np.intersect1d(rows, exact_rows))
            want += len(exact_rows)
        result[f"filtered_{label}_rows"] = len(allowed)
        result[f"filtered_{label}_recall_10"] = round(hits / want, 4)
        result[f"filtered_{label}_complete"] = complete
        result[f"filtered_{label}_ms"] = _percentiles(ftimes)
    return result


def _percentiles(times: list[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1000
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=PROJECT / "indexes" / "demo")
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--specs", nargs="+", default=["auto"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", choices=("pca", "isotropic"), default="pca")
    parser.add_argument("--scale", type=float, default=0.5, help="pca noise: times the real vectors' spread")
    parser.add_argument("--mix", type=float, default=0.5, help="pca noise: how far towards a second real vector")
    parser.add_argument("--sigma", type=float, default=0.02, help="isotropic noise per dimension")
    parser.add_argument("--regions", type=int, default=0, help="default: units // 312 (3,200 at a million)")
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads while timing searches")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss

    real = real_vectors(args.index)
    generator = Generator(real, noise=args.noise, scale=args.scale, mix=args.mix, sigma=args.sigma, seed=args.seed)
    started = time.perf_counter()
    vectors = generator.rows(args.units)
    queries = generator.rows(args.queries)
    rng = np.random.default_rng(args.seed + 1)
    regions = args.regions or max(1, args.units // 312)
    region = rng.integers(0, regions, args.units)
    province = region % 30
    generate_s = time.perf_counter() - started
    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    started = time.perf_counter()
    exact = faiss.knn(queries, vectors, 100, metric=faiss.METRIC_INNER_PRODUCT)[1]
    filtered = []
    for allowed in (np.flatnonzero(province == 0), np.flatnonzero(region == 0)):
        truth = faiss.knn(queries, vectors[allowed], min(10, len(allowed)), metric=faiss.METRIC_INNER_PRODUCT)[1]
        filtered.append((allowed, queries, allowed[truth]))
    exact_s = time.perf_counter() - started
    nn = faiss.knn(queries, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)[0][:, 0]
    report: dict[str, Any] = {
        "units": args.units, "queries": args.queries, "real_vectors": len(real), "noise": args.noise,
        **({"scale": args.scale, "mix": args.mix} if args.noise == "pca" else {"sigma": args.sigma}),
        "regions": regions, "query_nearest_cosine_p50": round(float(np.median(nn)), 4),
        "generate_s": round(generate_s, 1), "exact_s": round(exact_s, 1), "cpus": os.cpu_count(),
        "search_threads": args.threads, "faiss": faiss.__version__, "specs": [],
    }
    for spec in args.specs:
        report["specs"].append(measure(spec, vectors, queries, region, province, exact, filtered, args.threads))
        print(json.dumps(report["specs"][-1], ensure_ascii=False), file=sys.stderr, flush=True)
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
