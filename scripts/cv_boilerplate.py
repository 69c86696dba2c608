#!/usr/bin/env python
"""Choose the recurrence constants of boilerplate detection by k-fold cross-validation on a generated corpus.

    python scripts/cv_boilerplate.py --out DIR [--reports 150] [--seed 19] [--folds 5]

Generates the formula corpus (``simkit.evaluation.formula_corpus``), parses it once, and for every
combination of the grid (5-gram share of regions, clause cut, unit cut, least regions) flags the corpus
with statistics over all its reports (unlabelled, as ``simkit build`` does). The reports are split into
``--folds`` folds; on each, the combination scoring best on the other folds' planted sentences —
formula recall + share of formula units flagged as boilerplate (none left to initiatives) − 5 × measures
marked − 5 × measures in boilerplate units — is judged on the held-out
fold. Prints the grid's scores over all reports, each fold's choice and held-out figures, as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from simkit.evaluation.formula_corpus import generate, measure, parse_corpus, write_corpus  # noqa: E402
from simkit.evaluation.many_regions import load_paragraphs  # noqa: E402
from simkit.reading import boilerplate  # noqa: E402

SHARES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
CUTS = (0.5, 0.6, 0.7, 0.8)
UNIT_CUTS = (0.6, 0.7, 0.8, 0.9)
MIN_REGIONS = (5,)  # at 150 reports every share of the grid asks for more regions; chosen on the examples
PENALTY = 5.0


def score(row: dict) -> float:
    f, m = row["formula"], row["measure"]
    kept = row["formula_units_left_to_initiatives"] / max(1, row["formula_units"])
    return (f["in_spans"] / f["planted"] + 1 - kept - PENALTY * m["in_spans"] / m["planted"]
            - PENALTY * m["in_boilerplate_units"] / m["planted"])


def add(a: dict, b: dict) -> dict:
    return {k: add(a[k], b[k]) if isinstance(a[k], dict) else a[k] + b[k] for k in a}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reports", type=int, default=150)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    corpus = generate(load_paragraphs(PROJECT / "tests" / "data" / "many_regions" / "paragraphs.json"),
                      reports=args.reports, seed=args.seed)
    shutil.rmtree(args.out / "reports", ignore_errors=True)
    write_corpus(corpus, args.out)
    parsed = {p.report.id: p for p in parse_corpus(args.out)}
    reports = [parsed[Path(r.filename).stem] for r in corpus.reports]
    folds = [list(range(i, len(corpus.reports), args.folds)) for i in range(args.folds)]
    grid = {}  # combination → per-fold measurement
    for share, cut, unit_cut, least in itertools.product(SHARES, CUTS, UNIT_CUTS, MIN_REGIONS):
        boilerplate.RECUR_SHARE, boilerplate.RECUR_CUT = share, cut
        boilerplate.RECUR_UNIT_CUT, boilerplate.RECUR_MIN_REGIONS = unit_cut, least
        flagged, _ = boilerplate.flag_reports(reports)
        grid[(share, cut, unit_cut, least)] = [
            measure(replace(corpus, reports=[corpus.reports[i] for i in fold]), [flagged[i] for i in fold])
            for fold in folds]
    chosen = []
    for held in range(args.folds):
        def train(key: tuple, held: int = held) -> float:
            rows = [r for i, r in enumerate(grid[key]) if i != held]
            total = rows[0]
            for r in rows[1:]:
                total = add(total, r)
            return score(total)
        best = max(grid, key=train)
        test = grid[best][held]
        chosen.append({"fold": held, "share": best[0], "cut": best[1], "unit_cut": best[2], "least": best[3],
                       "held_out": {"formula": test["formula"], "measure": test["measure"],
                                    "formula_units_left_to_initiatives": test["formula_units_left_to_initiatives"]}})
    overall = []
    for key, rows in grid.items():

        total = rows[0]
        for r in rows[1:]:
            total = add(total, r)
        planted_all = total["measure"]["planted"]
        overall.append({"share": key[0], "cut": key[1], "unit_cut": key[2], "least": key[3],
                        "score": round(score(total), 4),
                        "formula": round(total["formula"]["in_spans"] / total["formula"]["planted"], 4),
                        "measure": round(total["measure"]["in_spans"] / total["measure"]["planted"], 4),
                        "measure_units": round(total["measure"]["in_boilerplate_units"] / planted_all, 4),
                        "formula_units": total["formula_units"],
                        "formula_units_left": total["formula_units_left_to_initiatives"]})
    overall.sort(key=lambda r: -r["score"])
    print(json.dumps({"reports": args.reports, "seed": args.seed, "folds": chosen, "grid": overall},
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
