"""English-query quality on more items than the dev set's five English queries; prints JSON.

    python scripts/eval_english.py --index indexes/demo [--eval-dir ../shared/eval] [--mode hybrid]

The dev set has five English queries (15 region/evidence items), too few to choose between
methods that only change English answers. This adds, with the dev labels unchanged:

- ``dev_translated``: the ten Chinese dev queries in English (translations written for this
  check; relevant regions and evidence are the Chinese query's);
- ``initiatives``: the English labels of ``clusters_dev.json`` as queries, members as relevant;
- ``readme``: the English query of ``make demo`` (once the README's) with the labels of the dev query
  on the same measure (q03).

Each part and their total are scored with ``simkit.evaluation.queries`` (evidence = the region's top
unit holds a labelled evidence string). Used to reject BM25 feedback for English queries
(docs/method/evidence.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from simkit.api import open_index
from simkit.evaluation.queries import evaluate

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
README_QUERY = "bundle related services so people apply once at one window"
TRANSLATIONS = {
    "q03": "Related matters that citizens and businesses used to handle separately at several departments are "
           "bundled into one themed package: one application, one window.",
    "q05": "Carrying on the grassroots experience of settling small matters in the village and big ones in the "
           "township, and creating model judicial offices, police stations or mediation brands.",
    "q06": "Publicity months, touring lectures or themed parks to popularize the newly enacted basic civil law.",
    "q10": "A digital supervision and protection app for cultural heritage such as ancient timber arch bridges, "
           "with stronger judicial protection.",
    "q12": "Working with neighbouring provinces so that frequently used government services are recognised and "
           "handled across provinces, sparing people trips.",
    "q14": "Credit repair for companies with records of broken trust, helping them rebuild credit and resume "
           "normal business.",
    "q20": "Enforcement-supervision contact points set up in private companies, with people's congress deputies "
           "and CPPCC members hired to oversee enforcement.",
    "q22": "Case transfer and cooperation between administrative enforcement agencies and the police and "
           "procuratorate.",
    "q23": "Heads of administrative agencies appear in court in person for administrative lawsuits, and "
           "appearance and win rates count in performance reviews.",
    "q29": "Companies hit by the pandemic that cannot pay fines for now may pay them later or in instalments.",
}


def query_sets(eval_dir: Path) -> dict[str, list[dict[str, Any]]]:
    dev = json.loads((eval_dir / "queries_dev.json").read_text(encoding="utf-8"))
    clusters = json.loads((eval_dir / "clusters_dev.json").read_text(encoding="utf-8"))
    by_id = {q["id"]: q for q in dev}
    sets = {
        "dev_english": [q for q in dev if q["lang"] == "en"],
        "dev_translated": [dict(by_id[i], id=f"{i}-en", lang="en", query=text)
                           for i, text in TRANSLATIONS.items() if i in by_id],
        "initiatives": [{"id": c["id"], "lang": "en", "query": c["label_en"],
                         "relevant": [{"region": m["region"], "grade": m.get("grade", 2),
                                       "evidence": m["evidence"]} for m in c["members"]]}
                        for c in clusters],
    }
    if "q03" in by_id:
        sets["readme"] = [dict(by_id["q03"], id="readme", lang="en", query=README_QUERY)]
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="indexes/demo")
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--mode", default="hybrid", choices=["dense", "lexical", "hybrid"])
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    out: dict[str, Any] = {"index": args.index, "mode": args.mode, "k": args.k, "parts": {}}
    hits = total = 0
    with open_index(args.index) as index:
        for name, queries in query_sets(args.eval_dir).items():
            report = evaluate(index, queries, k=args.k, mode=args.mode)
            part_hits = sum(q.evidence_hits for q in report.queries)
            part_total = sum(q.evidence_total for q in report.queries)
            hits, total = hits + part_hits, total + part_total
            out["parts"][name] = {"queries": len(queries), "evidence_hits": part_hits, "evidence_items": part_total,
                                  "ndcg": report.summary["all"]["ndcg"]}
    out["evidence_hits"], out["evidence_items"] = hits, total
    out["evidence"] = round(hits / total, 4) if total else 0.0
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
