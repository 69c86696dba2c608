"""The many-region test corpus: the five example reports plus 120 generated reports of other regions.

The generator (simkit/evaluation/many_regions.py) and its labels are checked without the model; the slow
test builds the 125-region index and judges search on the 28 labelled queries the way tests/test_evidence.py
does on the five example reports (tests/data/README.md, docs/method/search.md).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest
from conftest import DATA, EXAMPLES

from simkit.evaluation.many_regions import generate, load_paragraphs, write_corpus
from simkit.evaluation.queries import normalize_for_match
from simkit.reading.parse import parse_report
from simkit.reading.records import UNIT_KINDS

PARAGRAPHS = DATA / "many_regions" / "paragraphs.json"
EXAMPLE_REGIONS = {"石狮市", "泰顺县", "厦门市", "四平市", "泉州市泉港区"}


def _generate(seed: int = 7):
    queries = json.loads((DATA / "queries.json").read_text(encoding="utf-8"))
    return generate(load_paragraphs(PARAGRAPHS), queries, reports=120, seed=seed)


@pytest.fixture(scope="module")
def corpus():
    return _generate()


@pytest.fixture(scope="module")
def corpus_dir(corpus, tmp_path_factory):
    return write_corpus(corpus, tmp_path_factory.mktemp("many") / "corpus", examples=EXAMPLES)


def test_generator_is_deterministic_for_a_seed(corpus):
    again = _generate()
    assert again == corpus
    other = _generate(seed=8)
    assert [r.region for r in other.reports] != [r.region for r in corpus.reports]


def test_regions_are_distinct_real_regions_detected_as_generated(corpus, corpus_dir):
    names = [r.region for r in corpus.reports]
    assert len(set(names)) == len(names) == 120
    taken = names + sorted(EXAMPLE_REGIONS)
    assert not [(a, b) for a in taken for b in taken if a != b and a in b]
    assert {r.year for r in corpus.reports} == {2021, 2022, 2023, 2024}
    for report in corpus.reports:
        parsed = parse_report(corpus_dir / "reports" / report.filename).report
        assert (parsed.region, parsed.province, parsed.year) == (report.region, report.province, report.year)
    assert len(list((corpus_dir / "reports").glob("*.txt"))) == 125


def test_labels_point_into_one_unit_of_the_generated_region(corpus, corpus_dir):
    queries = json.loads((corpus_dir / "queries.json").read_text(encoding="utf-8"))
    original = json.loads((DATA / "queries.json").read_text(encoding="utf-8"))
    assert [q["id"] for q in queries] == [q["id"] for q in original]
    generated = {r.region: r for r in corpus.reports}
    per_topic: Counter[str] = Counter()
    for query, before in zip(queries, original):
        added = query["relevant"][len(before["relevant"]):]
        assert query["relevant"][:len(before["relevant"])] == before["relevant"]
        twin = next(q for q in queries if q["topic"] == query["topic"] and q["lang"] != query["lang"])
        assert twin["relevant"] == query["relevant"]  # the English twin carries the same labels
        for label in added:
            report = generated[label["region"]]
            assert label["grade"] == 2 and len(label["evidence"]) == 1
            evidence = label["evidence"][0]
            assert 12 <= len(evidence) <= 40
            units = [u for u in parse_report(corpus_dir / "reports" / report.filename).paragraphs
                     if u.kind in UNIT_KINDS and normalize_for_match(evidence) in normalize_for_match(u.text)]
            assert len(units) == 1, (label, [u.text for u in units])
            body = re.sub(r"^\d+\.", "", units[0].text)
            assert 80 <= len(body) <= 250, body
            if query["lang"] == "zh":
                per_topic[query["id"]] += 1
    assert sorted(per_topic) == sorted(q["id"] for q in original if q["lang"] == "zh")
    assert all(4 <= n <= 10 for n in per_topic.values()), per_topic
    carriers = sum(bool(r.measures) for r in corpus.reports)
    assert 0.25 <= carriers / len(corpus.reports) <= 0.35
    assert all(1 <= len(r.measures) <= 2 for r in corpus.reports if r.measures)


def test_no_paragraph_repeats_and_no_measure_is_boilerplate(corpus, corpus_dir):
    from simkit.pipeline.ingest import ingest_reports

    parsed, skipped, _ = ingest_reports([corpus_dir / "reports"])
    assert not skipped and len(parsed) == 125
    generated = {r.region for r in corpus.reports}
    texts = Counter(re.sub(r"^\d+\.", "", u.text) for p in parsed if p.report.region in generated
                    for u in p.units if u.kind in UNIT_KINDS)
    assert texts.most_common(1)[0][1] == 1
    # 8-10 indexed units a generated report; about 1,230 with the examples' 172 (what the slow test builds).
    units = [u for p in parsed for u in p.units]
    assert 1100 <= len(units) <= 1300
    for report in corpus.reports:
        holding = [u for p in parsed if p.report.region == report.region for u in p.units
                   if any(normalize_for_match(e) in normalize_for_match(u.text) for e in report.measures.values())]
        assert len(holding) == len(report.measures)
        assert not any(u.boilerplate for u in holding), [u.text for u in holding if u.boilerplate]


@pytest.mark.slow
def test_search_quality_at_125_regions(corpus, corpus_dir, embedder):
    """Region nDCG@5, evidence and single-region queries on the 125-region index, per search mode."""
    from simkit.api import open_index
    from simkit.evaluation.queries import evaluate
    from simkit.pipeline.build import build_index

    queries = json.loads((corpus_dir / "queries.json").read_text(encoding="utf-8"))
    started = time.perf_counter()
    build_index([corpus_dir / "reports"], corpus_dir / "index")
    seconds = time.perf_counter() - started
    with open_index(corpus_dir / "index") as index:
        reports = {mode: evaluate(index, queries, k=5, mode=mode) for mode in ("dense", "lexical", "hybrid")}
        rows = index.store.units_at(range(int(index.manifest.counts["vectors"])))
    summary = {mode: report.summary for mode, report in reports.items()}
    relevant = {q["id"]: {r["region"] for r in q["relevant"]} for q in queries}
    print(f"\nmany-region build: {len(rows)} units in {seconds:.0f} s")
    for mode, figures in summary.items():
        print(mode, json.dumps(figures, ensure_ascii=False))

    # No unit holding a labelled measure of a generated region is left out of search as boilerplate.
    generated = {r.region: r for r in corpus.reports}
    measure_units = [u for u in rows.values() if u.region in generated
                     and any(normalize_for_match(e) in normalize_for_match(u.text)
                             for e in generated[u.region].measures.values())]
    assert len(measure_units) == sum(len(r.measures) for r in corpus.reports)
    assert not any(u.boilerplate for u in measure_units)

    hybrid, dense, lexical = summary["hybrid"], summary["dense"], summary["lexical"]
    # Fusion is not worse than either ranking alone on region nDCG@5 (no margin allowed). Measured (seed 7), with
    # the dictionary translation of English queries: all 0.902 vs dense 0.727 and lexical 0.462; zh 0.930 vs
    # 0.865 and 0.924; en 0.875 vs 0.590 (lexical 0; before the translation 0.747).
    assert hybrid["all"]["ndcg"] >= max(dense["all"]["ndcg"], lexical["all"]["ndcg"])
    assert hybrid["zh"]["ndcg"] >= max(dense["zh"]["ndcg"], lexical["zh"]["ndcg"])
    assert hybrid["en"]["ndcg"] >= dense["en"]["ndcg"]
    # Floors a little under the figures measured when the corpus was written (in the comments).
    assert hybrid["zh"]["ndcg"] >= 0.90  # 0.929
    assert hybrid["en"]["ndcg"] >= 0.82  # 0.875
    assert hybrid["all"]["ndcg"] >= 0.86  # 0.902
    assert dense["all"]["ndcg"] >= 0.69  # 0.727 (zh 0.865, en 0.590)
    assert lexical["zh"]["ndcg"] >= 0.89  # 0.924
    # The region's first paragraph holds its evidence: zh 1.000, en 0.831, all 0.919 (dense zh 1.000, en 0.789;
    # lexical 0.984); zh 0.984 before a region's problems section came last (2026-12-03). Hybrid is not below
    # either ranking alone here either.
    assert hybrid["zh"]["evidence"] >= max(dense["zh"]["evidence"], lexical["zh"]["evidence"])
    assert hybrid["en"]["evidence"] >= dense["en"]["evidence"]
    assert hybrid["zh"]["evidence"] >= 0.95
    assert hybrid["en"]["evidence"] >= 0.78
    assert hybrid["all"]["evidence"] >= 0.87
    assert all(summary[m]["all"]["hard_negative_violations"] == 0 for m in summary)

    # Every query now has 5-9 relevant regions, so single_top1 has nothing to count (None). What a user checks
    # instead: the first region is a relevant one, for every query and for the six queries that had one
    # relevant region among the five examples (t03-t05, t25, t29, t30). Measured, hybrid: 27/28 and 6/6
    # (dense 25/28 and 6/6; lexical 14/14 Chinese).
    assert all(summary[m]["all"]["single_top1"] is None for m in summary)
    first_relevant = [q.id for q in reports["hybrid"].queries
                      if q.ranked_regions[:1] and q.ranked_regions[0] in relevant[q.id]]
    assert len(first_relevant) >= 26
    assert {"t03", "t04", "t05", "t25", "t29", "t30"} <= set(first_relevant)
