"""scripts/compare_settings.py: the labelled queries scored with the shipped settings and with some changed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from simkit.errors import QueryError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_settings", ROOT / "scripts" / "compare_settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


script = _load_script()


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
