"""Cross-validated evaluation: search constants chosen on some labelled queries and judged on the others."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from simkit.cli import cli
from simkit.errors import QueryError
from simkit.evaluation.crossval import assign_folds, candidate_settings, cross_validate, utility
from simkit.evaluation.queries import load_queries, score_query
from simkit.search.settings import DEFAULT_SETTINGS, SearchSettings

DATA = Path(__file__).parent / "data"


def test_folds_keep_a_topic_together_and_mix_languages():
    queries = load_queries(DATA / "queries.json")
    folds = assign_folds(queries, 4)
    assert folds == assign_folds(queries, 4)  # deterministic
    by_topic: dict[str, set[int]] = {}
    for query, fold in zip(queries, folds):
        by_topic.setdefault(query["topic"], set()).add(fold)
    assert all(len(f) == 1 for f in by_topic.values())  # a Chinese query and its English twin share a fold
    for fold in range(4):
        langs = {q["lang"] for q, f in zip(queries, folds) if f == fold}
        assert langs == {"zh", "en"}


def test_grid_starts_with_the_shipped_settings_and_has_no_duplicates():
    candidates = candidate_settings({"rrf_k": (20, 60), "evidence_sentence": (0.5, 0.75)})
    assert candidates[0] == DEFAULT_SETTINGS
    assert len(candidates) == len(set(candidates)) == 4


def test_settings_refuse_bad_values():
    with pytest.raises(QueryError, match="evidence_sentence"):
        SearchSettings(evidence_sentence=1.5)
    with pytest.raises(QueryError, match="negative"):
        SearchSettings(lexical_weight=-1)
    with pytest.raises(QueryError, match="unknown search settings rrf"):
        SearchSettings.from_dict({"rrf": 3})
    assert SearchSettings.from_dict(DEFAULT_SETTINGS.to_dict()) == DEFAULT_SETTINGS


@pytest.mark.slow
def test_settings_change_the_ranking_they_name(demo_index):
    query = "把乡镇和街道分散在各部门的执法力量整合起来，由一支综合执法队伍统一承担执法事项。"
    dense = [r.region for r in demo_index.search(query, k=None, mode="dense").regions]
    default = demo_index.search(query, k=None)
    assert default.to_dict() == demo_index.search(query, k=None, settings=DEFAULT_SETTINGS).to_dict()
    # With the BM25 ranking weighed 0, hybrid ranks regions as the dense ranking does.
    no_lexical = demo_index.search(query, k=None, settings=replace(DEFAULT_SETTINGS, lexical_weight=0.0))
    assert [r.region for r in no_lexical.regions] == dense
    with pytest.raises(QueryError, match="settings"):
        demo_index.search(query, settings={"rrf_k": 1})


@pytest.mark.slow
def test_held_out_scores_come_from_settings_chosen_without_them(demo_index):
    queries = load_queries(DATA / "queries.json")[:6] + load_queries(DATA / "queries.json")[14:20]
    candidates = candidate_settings({"rrf_k": (20, 60), "evidence_sentence": (0.25, 0.75)})
    report = cross_validate(demo_index, queries, folds=3, candidates=candidates)
    assert report.summary["hybrid"]["all"]["queries"] == len(queries)
    assert report.summary["lexical"]["zh"]["queries"] == 6
    assert {c.mode for c in report.choices} == {"hybrid", "dense"} and len(report.choices) == 6
    folds = {row["id"]: row["fold"] for row in report.queries}
    scores = {s: [score_query(q, demo_index.search(q["query"], settings=s), 5) for q in queries] for s in candidates}
    held = []
    for choice in (c for c in report.choices if c.mode == "hybrid"):
        chosen = SearchSettings.from_dict(choice.settings)
        assert chosen in candidates
        train = [i for i, q in enumerate(queries) if folds[q["id"]] != choice.fold]
        # The choice is each constant's value with the best mean training utility over the grid.
        for name in ("rrf_k", "evidence_sentence"):
            def mean(value, name=name, train=train):
                rows = [s for s in candidates if getattr(s, name) == value]
                return sum(utility(scores[s][i]) for s in rows for i in train) / len(rows)
            assert mean(getattr(chosen, name)) >= max(mean(getattr(s, name)) for s in candidates) - 1e-9
        held += [scores[chosen][i] for i, q in enumerate(queries) if folds[q["id"]] == choice.fold]
    ndcg = round(sum(s.ndcg for s in held) / len(held), 4)
    assert report.summary["hybrid"]["all"]["ndcg"] == ndcg


def test_folds_need_two_folds_and_enough_topics(demo_index):
    queries = load_queries(DATA / "queries.json")
    with pytest.raises(QueryError, match="--folds"):
        cross_validate(demo_index, queries[:3], folds=4)
    twins = [q for q in queries if q["topic"] in {queries[0]["topic"], queries[1]["topic"]}]
    with pytest.raises(QueryError, match="only 2 topics"):  # a Chinese query and its twin are one topic
        cross_validate(demo_index, twins, folds=3)


@pytest.mark.slow
def test_cli_reports_held_out_figures(demo_index_dir, tmp_path):
    queries = load_queries(DATA / "queries.json")
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps(queries[:2] + queries[14:16], ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", str(subset), "--index", str(demo_index_dir), "--folds", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["folds"] == 2 and report["candidates"] == len(candidate_settings())
    assert set(report["summary"]) == {"hybrid", "dense", "lexical"}
    assert report["summary"]["hybrid"]["all"]["queries"] == 4
    assert set(report["chosen"]) == set(DEFAULT_SETTINGS.to_dict())
    text = runner.invoke(cli, ["eval", str(subset), "--index", str(demo_index_dir), "--folds", "2"])
    assert text.exit_code == 0 and "hybrid (held out)" in text.output and "chosen on all queries" in text.output
    bad = runner.invoke(cli, ["eval", str(subset), "--index", str(demo_index_dir), "--folds", "1"])
    assert bad.exit_code == 2 and "--folds" in bad.output
    mixed = runner.invoke(cli, ["eval", str(subset), "--index", str(demo_index_dir), "--folds", "2", "--similar"])
    assert mixed.exit_code == 2 and "--folds" in mixed.output
