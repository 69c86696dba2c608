#!/usr/bin/env python
"""Write the generated boilerplate corpus and measure what simkit flags in it as the corpus grows.

    python scripts/make_formula_corpus.py --out DIR [--reports 150] [--seed 19]
    python scripts/make_formula_corpus.py --out DIR --growth 10,50,150,300
    python scripts/make_formula_corpus.py --out DIR [--reports 150] --initiatives

Writes ``DIR/reports/*.txt`` and ``DIR/labels.json`` (``simkit.evaluation.formula_corpus``), flags the
reports' boilerplate as ``simkit build`` does (statistics over all the reports written) and prints a JSON
summary: planted formula and measure sentences lying at least half in formula spans, those in boilerplate
units, and units made of planted formula left to initiatives. With ``--growth``, one corpus of the largest
size is generated and measured on its first N reports for each N.

With ``--initiatives`` the written corpus (all of it) is also indexed as ``simkit build DIR/reports --index
DIR/index`` does (the default model; an index already there is replaced), and its stored clustering
(``clusters.json``, initiatives at the sentence grain) is read back as ``simkit clusters`` lists it: the
initiatives spanning at least two regions, each with its sentences. The JSON gains ``initiatives``
(:func:`simkit.evaluation.formula_corpus.formula_in_initiatives`):

- a clustered sentence is **planted formula** when at least half of its characters lie in the planted
  ``formula`` sentences of its own report as ``labels.json`` records them (``kind: formula``, ``text``),
  matched by text after NFKC and whitespace removal (a planted sentence inside it, it inside one, or one
  running across its start or end); ``measure`` likewise; anything else (the unlabelled lead sentences
  naming a paragraph's subject) is ``other``;
- an initiative is **built from planted formula** when at least half of its sentences are planted formula
  (``built_from_planted_formula``, each listed in ``built`` with its formula keys); also the initiatives
  holding any planted formula sentence, the largest share of planted formula in one initiative, the share
  of all initiatives' sentences that are planted formula, and the median and largest number of regions per
  initiative beside the corpus's region count.

``initiatives.clustering`` is the clustering measured on its own: a fresh Python process opens the index,
builds what it is clustered over (``clustering_table``: the sentences less formula and statistics; timed as
``table_seconds``) and runs ``cluster_table`` on it once (``seconds``: graph, Leiden, labels and ids, under
``time.perf_counter``); ``peak_rss_mb`` is that process's peak resident set (``VmHWM``) at the end,
``rss_before_mb`` what it held before clustering (interpreter, libraries, the opened index and the table),
``cores`` the CPUs it could use. ``reproduces_build`` says whether it found the same groups of sentences as
the build stored.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from simkit.evaluation.formula_corpus import (  # noqa: E402
    formula_in_initiatives,
    generate,
    measure,
    parse_corpus,
    write_corpus,
)
from simkit.evaluation.many_regions import load_paragraphs  # noqa: E402
from simkit.reading.boilerplate import flag_reports  # noqa: E402

DATA = PROJECT / "tests" / "data"


def _memory_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, in MB. Not ``ru_maxrss``: Linux carries
    the peak of the process forked before ``exec`` into it, here the parent's, which holds the model."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def clustering_child(index_dir: Path) -> None:
    """In this fresh process: open the index, cluster it once as the build does, print time and memory (JSON)."""
    from simkit.api import open_index
    from simkit.initiatives.clustering import _manifest_model, cluster_table, clustering_table

    with open_index(index_dir) as index:
        parts = index.parts
        started = time.perf_counter()
        table = clustering_table(parts)
        table_seconds = time.perf_counter() - started
        before = _memory_mb("VmRSS")
        started = time.perf_counter()
        clustering = cluster_table(table, version=parts.version.name, model=_manifest_model(parts.version.path))
        seconds = time.perf_counter() - started
        peak = _memory_mb("VmHWM")
        stored = index.clustering

    def groups(clusters: list[dict]) -> set[frozenset[str]]:
        return {frozenset(str(x["id"]) for x in c.get("sentences", [])) or frozenset(c["members"]) for c in clusters}

    json.dump({"granularity": clustering.params.get("granularity"), "items": len(table),
               "units": clustering.params.get("units"), "clusters": len(clustering.clusters),
               "table_seconds": round(table_seconds, 2), "seconds": round(seconds, 2),
               "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
               "cores": len(os.sched_getaffinity(0)),
               "reproduces_build": groups(clustering.clusters) == groups(stored.clusters)}, sys.stdout)


def initiatives(out: Path) -> dict:
    """Index the written corpus at ``out/index``, read its initiatives and measure its clustering alone."""
    from simkit.api import open_index
    from simkit.pipeline.build import build_index

    index_dir = out / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    built = build_index([out / "reports"], index_dir)
    build_seconds = time.perf_counter() - started
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    with open_index(index_dir) as index:
        found = formula_in_initiatives(labels, index.clusters().clusters)
        params = index.clustering.params
    done = subprocess.run([sys.executable, __file__, "--cluster-child", str(index_dir), "--out", str(out)],
                          check=True, capture_output=True, text=True)
    return {"index": str(index_dir), "build_seconds": round(build_seconds, 1), "units": built.units,
            "granularity": params.get("granularity"), "clustered_sentences": params.get("sentences"),
            **found, "clustering": json.loads(done.stdout)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write reports/ and labels.json into")
    parser.add_argument("--reports", type=int, default=150, help="generated reports (default 150)")
    parser.add_argument("--growth", default="", help="comma-separated corpus sizes to measure (e.g. 10,50,150,300)")
    parser.add_argument("--seed", type=int, default=19, help="seed of every random choice (default 19)")
    parser.add_argument("--paragraphs", type=Path, default=DATA / "many_regions" / "paragraphs.json")
    parser.add_argument("--initiatives", action="store_true",
                        help="also index the corpus (DIR/index) and measure its initiatives and clustering")
    parser.add_argument("--cluster-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cluster_child is not None:
        clustering_child(args.cluster_child)
        return 0

    sizes = [int(n) for n in args.growth.split(",") if n] or [args.reports]
    corpus = generate(load_paragraphs(args.paragraphs), reports=max(sizes), seed=args.seed)
    if args.out.exists():
        shutil.rmtree(args.out / "reports", ignore_errors=True)
    write_corpus(corpus, args.out)
    started = time.perf_counter()
    parsed = {p.report.id: p for p in parse_corpus(args.out)}
    rows = []
    for size in sizes:
        part = replace(corpus, reports=corpus.reports[:size])
        reports = [parsed[Path(r.filename).stem] for r in part.reports]
        flagged, _ = flag_reports(reports)
        rows.append(measure(part, flagged))
    summary: dict = {"seed": args.seed, "seconds": round(time.perf_counter() - started, 1), "sizes": rows}
    if args.initiatives:
        summary["initiatives"] = initiatives(args.out)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
