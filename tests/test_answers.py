"""Answers analysts act on: modes, filters inside the search, thresholds, evidence spans, recommendations."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from simkit.cli import cli
from simkit.errors import NotFoundError, QueryError
from simkit.search.filters import Filters

ONE_THING = "推行高频事项“一件事一次办”主题服务"
ENGLISH = "bundle related services so people apply once at one window"


def test_default_mode_is_hybrid_and_modes_differ(demo_index):
    hybrid = demo_index.search(ONE_THING, k=5)
    assert hybrid.mode == "hybrid"
    dense = demo_index.search(ONE_THING, k=5, mode="dense")
    lexical = demo_index.search(ONE_THING, k=5, mode="lexical")
    assert "一件事" in lexical.regions[0].hits[0].text
    assert [r.region for r in dense.regions] != [] and [r.region for r in lexical.regions] != []
    with pytest.raises(QueryError, match="unknown search mode"):
        demo_index.search(ONE_THING, mode="fuzzy")


def test_english_queries_are_ranked_by_their_translation_and_latent_terms_in_hybrid(demo_index):
    """No Chinese word to match: BM25 over the query's dictionary translation (simkit.search.translation)
    and the query's latent terms (simkit.store.latent) stand in for BM25 over its words."""
    hybrid = demo_index.search(ENGLISH, k=5)
    assert hybrid.rankings == ["dense", "translated", "latent"]
    assert demo_index.search(ONE_THING, k=5).rankings == ["dense", "lexical"]
    assert demo_index.search(ENGLISH, k=5, mode="dense").rankings == ["dense"]
    assert demo_index.search(ENGLISH, k=5, mode="lexical").regions == []
    # "bundle" has no gloss among the reports' words, so the translation is of its generic words (服务, 窗口,
    # 申请); 泰顺县's only "一件事", a water-source supervision app, is still not what it shows first.
    assert {"服务", "窗口"} <= set(hybrid.translated)
    by_region = {r.region: r for r in hybrid.regions}
    assert "水源地" not in by_region["泰顺县"].hits[0].text
    assert any("一件事" in r.hits[0].text for r in hybrid.regions[:3])


def test_hits_carry_calibrated_scores_and_highlight_spans(demo_index):
    result = demo_index.search(ONE_THING, k=3)
    hit = result.regions[0].hits[0]
    assert 0.0 <= hit.calibrated <= 1.0 and -1.0 <= hit.similarity <= 1.0
    assert hit.highlights, hit.text
    words = [hit.text[start:end] for start, end in hit.highlights]
    assert any("一件事" in w or "一次办" in w or "高频" in w for w in words), words
    calibrated = [r.calibrated for r in result.regions]
    assert all(c is not None for c in calibrated)


def test_threshold_returns_every_region_above_it(demo_index):
    everything = demo_index.search(ONE_THING, k=None, threshold=0.0)
    assert len(everything.regions) == 5
    strict = demo_index.search(ONE_THING, k=None, threshold=0.99)
    assert all(r.calibrated >= 0.99 for r in strict.regions)
    assert len(strict.regions) < 5
    weakest = min(r.calibrated for r in everything.regions)
    above = demo_index.search(ONE_THING, k=None, threshold=weakest + 1e-4)
    assert len(above.regions) == sum(r.calibrated >= weakest + 1e-4 for r in everything.regions) < 5
    assert len(demo_index.search(ONE_THING, k=2, threshold=0.0).regions) == 2


def test_filters_apply_inside_the_search(demo_index):
    result = demo_index.search("行政复议", k=5, filters=Filters(exclude_regions=("四平市",)))
    assert len(result.regions) == 4 and "四平市" not in [r.region for r in result.regions]
    fujian = demo_index.search("行政复议", k=5, filters=Filters(provinces=("福建",)))
    assert {r.region for r in fujian.regions} == {"石狮市", "厦门市", "泉州市泉港区"}
    plans = demo_index.search("行政复议", k=5, filters=Filters(roles=("plan",)), hits=5)
    assert all(h.role == "plan" for r in plans.regions for h in r.hits)
    assert result.filters["exclude_regions"] == ["四平市"]


def test_recommendations_for_a_region(demo_index):
    recommendations = demo_index.recommend_for_region("四平市", k=5)
    assert recommendations
    for rec in recommendations:
        assert "四平市" not in rec.supporting_regions
        assert len(rec.supporting_regions) >= 2
        assert rec.region in rec.supporting_regions
        assert rec.measure.role in ("measure", "leadership") and not rec.measure.boilerplate
        assert {h.paragraph_id for h in rec.support} >= {rec.measure.paragraph_id}
    data = recommendations[0].to_dict()
    assert set(data) >= {"measure", "region", "supporting_regions", "support"}
    with pytest.raises(NotFoundError, match="火星市"):
        demo_index.recommend_for_region("火星市")


def test_regions_like_is_search_regions(demo_index):
    assert [r.region for r in demo_index.regions_like(ONE_THING, k=3)] == [
        r.region for r in demo_index.search(ONE_THING, k=3).regions]


def test_cli_csv_from_file_and_filters(demo_index_dir, tmp_path):
    runner = CliRunner()
    query = tmp_path / "measure.txt"
    query.write_text("围绕企业全生命周期，推行高频事项“一件事一次办”主题服务，企业跑动次数明显下降。",
                     encoding="utf-8")
    result = runner.invoke(cli, ["search", "--from-file", str(query), "--index", str(demo_index_dir), "--csv",
                                 "--province", "福建", "--hits", "2"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows and {row["province"] for row in rows} == {"福建省"}
    assert {"rank", "region", "paragraph_id", "text", "calibrated"} <= set(rows[0])
    both = runner.invoke(cli, ["search", "x", "--from-file", str(query), "--index", str(demo_index_dir)])
    assert both.exit_code == 2 and "either TEXT or --from-file" in both.output
    unknown = runner.invoke(cli, ["search", "行政复议", "--index", str(demo_index_dir), "--region", "火星市",
                                  "--json"])
    assert unknown.exit_code == 0
    assert "Warning: no report from 火星市" in unknown.output


def test_cli_threshold_json(demo_index_dir):
    result = CliRunner().invoke(cli, ["search", ONE_THING, "--index", str(demo_index_dir), "--threshold", "0.5",
                                      "--json", "--mode", "dense"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["mode"] == "dense"
    assert all(region["calibrated"] >= 0.5 for region in data["regions"])
    assert all(isinstance(span, list) and len(span) == 2 for r in data["regions"] for h in r["hits"]
               for span in h["highlights"])


def test_cli_eval_compare(demo_index_dir, tmp_path):
    queries = tmp_path / "q.json"
    queries.write_text(json.dumps([{"id": "t1", "lang": "zh", "query": ONE_THING,
                                    "relevant": [{"region": "四平市", "grade": 2, "evidence": ["一件事一次办"]}]}],
                                  ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(queries), "--index", str(demo_index_dir), "--compare", "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)
    assert {(r["mode"], r["include_boilerplate"]) for r in reports} == {
        (m, b) for m in ("dense", "lexical", "hybrid") for b in (False, True)}
    assert all(np.isclose(r["summary"]["all"]["ndcg"], 1.0) for r in reports if r["mode"] != "dense")


def test_cli_eval_similar(demo_index_dir, tmp_path):
    """Query by example from each region's "一件事" paragraph: the other two labelled regions come back first."""
    queries = tmp_path / "q.json"
    queries.write_text(json.dumps([{"id": "t1", "lang": "zh", "query": ONE_THING, "relevant": [
        {"region": "四平市", "grade": 2, "evidence": ["一件事一次办"]},
        {"region": "泉州市泉港区", "grade": 2, "evidence": ["集成套餐"]},
        {"region": "石狮市", "grade": 2, "evidence": ["高效办成一件事"]}]}], ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(queries), "--index", str(demo_index_dir), "--similar", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mode"] == "hybrid" and report["sources"] == 3
    assert report["top1_relevant"] == 1.0 and report["ndcg"] >= 0.95


def test_cli_recommend(demo_index_dir):
    result = CliRunner().invoke(cli, ["recommend", "四平市", "--index", str(demo_index_dir), "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["region"] == "四平市" and 1 <= len(data["recommendations"]) <= 3
    assert all("四平市" not in r["supporting_regions"] for r in data["recommendations"])
    missing = CliRunner().invoke(cli, ["recommend", "火星市", "--index", str(demo_index_dir)])
    assert missing.exit_code == 1 and "火星市" in missing.output


def test_threshold_keeps_every_region_with_a_paragraph_above_it(demo_index):
    for mode in ("dense", "hybrid", "lexical"):
        result = demo_index.search("综合执法", k=None, mode=mode, threshold=0.99, hits=1)
        brute = demo_index.search("综合执法", k=None, mode="dense", threshold=0.0, hits=1000)
        expected = {r.region for r in brute.regions if any((h.calibrated or 0) >= 0.99 for h in r.hits)}
        assert {r.region for r in result.regions} == expected, mode


def test_k_and_hits_are_validated(demo_index):
    with pytest.raises(QueryError):
        demo_index.search(ONE_THING, k=0)
    with pytest.raises(QueryError):
        demo_index.search(ONE_THING, hits=0)


def test_dense_search_highlights_without_loading_jieba(demo_index_dir):
    import subprocess
    import sys

    code = ("import sys, simkit; i = simkit.open_index(sys.argv[1]); "
            "r = i.search('综合执法', k=1, mode='dense'); "
            "print(bool(r.regions[0].hits[0].highlights), 'jieba' in sys.modules, 'bm25s' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(demo_index_dir)], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["True", "False", "False"], done.stderr
