#!/usr/bin/env python
"""Write the generated boilerplate corpus and measure what simkit flags in it as the corpus grows.

    python scripts/make_formula_corpus.py --out DIR [--reports 150] [--seed 19]
    python scripts/make_formula_corpus.py --out DIR --growth 10,50,150,300

Writes ``DIR/reports/*.txt`` and ``DIR/labels.json`` (``simkit.evaluation.formula_corpus``), flags the
reports' boilerplate as ``simkit build`` does (statistics over all the reports written) and prints a JSON
summary: planted formula and measure sentences lying at least half in formula spans, those in boilerplate
units, and units made of planted formula left to initiatives. With ``--growth``, one corpus of the largest
size is generated and measured on its first N reports for each N.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from simkit.evaluation.formula_corpus import generate, measure, parse_corpus, write_corpus  # noqa: E402
from simkit.evaluation.many_regions import load_paragraphs  # noqa: E402
from simkit.reading.boilerplate import flag_reports  # noqa: E402

DATA = PROJECT / "tests" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write reports/ and labels.json into")
    parser.add_argument("--reports", type=int, default=150, help="generated reports (default 150)")
    parser.add_argument("--growth", default="", help="comma-separated corpus sizes to measure (e.g. 10,50,150,300)")
    parser.add_argument("--seed", type=int, default=19, help="seed of every random choice (default 19)")
    parser.add_argument("--paragraphs", type=Path, default=DATA / "many_regions" / "paragraphs.json")
    args = parser.parse_args(argv)

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
    print(json.dumps({"seed": args.seed, "seconds": round(time.perf_counter() - started, 1), "sizes": rows},
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
