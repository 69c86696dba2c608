#!/usr/bin/env python
"""Write the many-region test corpus: the five example reports plus generated reports of other regions.

    python scripts/make_many_regions.py --out DIR [--reports 120] [--seed 7]
    simkit build DIR/reports --index DIR/index
    simkit eval DIR/queries.json --index DIR/index --compare

Writes ``DIR/reports/*.txt`` and ``DIR/queries.json`` (``tests/data/queries.json`` with the generated regions
that carry each query's measure added as grade 2). The generator is
``simkit.evaluation.many_regions.generate``; the text it draws from is
``tests/data/many_regions/paragraphs.json`` (tests/data/README.md). Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from simkit.evaluation.many_regions import generate, load_paragraphs, write_corpus  # noqa: E402

DATA = PROJECT / "tests" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write reports/ and queries.json into")
    parser.add_argument("--reports", type=int, default=120, help="generated reports (default 120)")
    parser.add_argument("--seed", type=int, default=7, help="seed of every random choice (default 7)")
    parser.add_argument("--paragraphs", type=Path, default=DATA / "many_regions" / "paragraphs.json")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.json")
    parser.add_argument("--examples", type=Path, default=PROJECT / "examples" / "reports")
    args = parser.parse_args(argv)

    queries = json.loads(args.queries.read_text(encoding="utf-8"))
    corpus = generate(load_paragraphs(args.paragraphs), queries, reports=args.reports, seed=args.seed)
    write_corpus(corpus, args.out, examples=args.examples)
    per_topic: dict[str, int] = {}
    for report in corpus.reports:
        for topic in report.measures:
            per_topic[topic] = per_topic.get(topic, 0) + 1
    print(json.dumps({
        "out": str(args.out),
        "generated_reports": len(corpus.reports),
        "example_reports": len(list(args.examples.glob("*.txt"))),
        "reports_with_measures": sum(bool(r.measures) for r in corpus.reports),
        "reports_per_topic": dict(sorted(per_topic.items())),
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
