"""Measure clustering methods on labelled initiatives; prints JSON.

    python scripts/eval_clusters.py --index indexes/demo [--clusters ../shared/eval/clusters_dev.json]
        [--boilerplate ../shared/eval/boilerplate.json] [--methods besthit-leiden,knn-leiden,...]
        [--quantiles 0.9,0.95,0.98] [-k 30] [--granularity unit|sentence]

The unit grain (default here) is the method before issue 19; ``simkit eval --initiatives`` measures the shipped
sentence grain and chooses its constants on folds.

Metrics are described in ``simkit/evaluation/clusters.py``. The ``agglomerative`` and ``hdbscan`` baselines need
scikit-learn: ``pip install 'simkit[baselines]'``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simkit.api import open_index
from simkit.evaluation.clusters import measure
from simkit.initiatives.graph import DEFAULT_K, METHODS, close_threshold
from simkit.initiatives.units import CLUSTER_ROLES, SentenceTable, UnitTable

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def only_roles(table: UnitTable, roles: list[str]) -> UnitTable:
    keep = [i for i, role in enumerate(table.roles) if role in roles]
    return UnitTable([table.ids[i] for i in keep], [table.regions[i] for i in keep], [table.years[i] for i in keep],
                     [table.roles[i] for i in keep], [table.texts[i] for i in keep], table.vectors[keep],
                     [table.rows[i] for i in keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--clusters", default=str(EVAL / "clusters_dev.json"))
    parser.add_argument("--boilerplate", default=str(EVAL / "boilerplate.json"))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--quantiles", default="0.9,0.95,0.98")
    parser.add_argument("-k", type=int, default=DEFAULT_K)
    parser.add_argument("--roles", default=",".join(CLUSTER_ROLES),
                        help="Roles of the units clustered (to measure the choice of roles).")
    parser.add_argument("--granularity", choices=("unit", "sentence"), default="unit",
                        help="Cluster units (the method before issue 19) or their sentences.")
    args = parser.parse_args()
    labelled = json.loads(Path(args.clusters).read_text(encoding="utf-8"))
    boilerplate = json.loads(Path(args.boilerplate).read_text(encoding="utf-8"))
    with open_index(args.index) as index:
        table = only_roles(UnitTable.from_parts(index.parts), args.roles.split(","))
        if args.granularity == "sentence":
            sentences = SentenceTable.from_parts(index.parts)
            if sentences is None:
                sys.exit(f"{args.index}: no sentence vectors; rebuild the index")
            keep = set(table.ids)
            rows = [i for i, u in enumerate(sentences.unit_ids) if u in keep]
            table = SentenceTable([sentences.ids[i] for i in rows], [sentences.regions[i] for i in rows],
                                  [sentences.years[i] for i in rows], [sentences.roles[i] for i in rows],
                                  [sentences.texts[i] for i in rows], sentences.vectors[rows],
                                  [sentences.rows[i] for i in rows], [sentences.unit_ids[i] for i in rows],
                                  [sentences.spans[i] for i in rows], [sentences.sentence_rows[i] for i in rows],
                                  sentences.unit_texts)
    rows = []
    for method in args.methods.split(","):
        quantiles = [float(q) for q in args.quantiles.split(",")]
        if method == "hdbscan":  # no threshold: one run
            quantiles = quantiles[:1]
        for q in quantiles:
            rows.append(measure(table, labelled, boilerplate, method=method, k=args.k, quantile=q))
    json.dump({"index": args.index, "units": len(table), "roles": args.roles.split(","), "background_threshold_check":
               round(close_threshold(table.vectors, table.regions), 4), "results": rows},
              sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
