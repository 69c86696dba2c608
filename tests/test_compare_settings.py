"""scripts/compare_settings.py: the labelled queries scored with the shipped settings and with some changed."""

from __future__ import annotations

import json

import pytest
from conftest import DATA, load_script

from simkit.errors import QueryError

script = load_script("compare_settings")


def test_changes_are_read_as_json_values_of_known_settings():
    changed = script.changed_settings(["problem_units_last=false", "evidence_sentence=0.75",
                                       "evidence_lexical=sentence"])
    assert (changed.problem_units_last, changed.evidence_sentence, changed.evidence_lexical) == (False, 0.75,
                                                                                                  "sentence")
    with pytest.raises(QueryError, match="unknown search settings nope"):
        script.changed_settings(["nope=1"])
    with pytest.raises(QueryError, match="NAME=VALUE"):
        script.changed_settings(["problem_units_last"])


def test_moving_problem_units_back_in_front_lowers_evidence_on_our_labelled_queries(demo_index_dir, capsys):
    """What docs/method/evidence.md reports: with the rule off, a problem paragraph is shown first for some
    labelled region and the evidence figure falls; region ranking does not move."""
    assert script.main([str(DATA / "queries.json"), "--index", str(demo_index_dir),
                        "--change", "problem_units_last=false", "--mode", "hybrid"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["changed"] == {"problem_units_last": False}
    hybrid = report["sets"][str(DATA / "queries.json")]["hybrid"]
    shipped, changed = hybrid["shipped"]["all"], hybrid["changed"]["all"]
    assert changed["evidence"] < shipped["evidence"]
    assert changed["ndcg"] == shipped["ndcg"]


def test_a_bad_change_is_a_one_line_error(demo_index_dir, capsys):
    assert script.main([str(DATA / "queries.json"), "--index", str(demo_index_dir), "--change", "nope=1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
