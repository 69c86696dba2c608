"""Boilerplate (套话) detection on the five example reports, judged by the dev set's labels."""

from __future__ import annotations

import json
import unicodedata

import pytest
from conftest import EVAL_DIR

from simkit.boilerplate import PhraseStats, flag_report, phrase_stats
from simkit.build import ingest_reports


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _locate(report, evidence: str) -> tuple[int, int] | None:
    """Offsets of an evidence string in the cleaned text, comparing width- and space-folded."""
    text = report.report.text
    folded: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if not c.isspace():
                folded.append(c)
                origin.append(i)
    target = _fold(evidence)
    at = "".join(folded).find(target)
    if at < 0:
        return None
    return origin[at], origin[at + len(target) - 1] + 1


@pytest.fixture(scope="module")
def flagged(examples_dir):
    parsed, skipped, _ = ingest_reports([examples_dir])
    assert not skipped
    return {p.report.region: p for p in parsed}


def _in_spans(report, start: int, end: int) -> float:
    spans = report.boilerplate_spans
    return sum(any(s <= i < e for s, e in spans) for i in range(start, end)) / (end - start)


def test_dev_boilerplate_passages_are_flagged(flagged):
    labels = json.loads((EVAL_DIR / "boilerplate.json").read_text())
    found = total = 0
    for label in labels:
        for occurrence in label["occurrences"]:
            report = flagged[occurrence["region"]]
            for evidence in occurrence["evidence"]:
                where = _locate(report, evidence)
                assert where is not None, evidence
                total += 1
                found += _in_spans(report, *where) >= 0.5
    # Measured 45/46 with five regions (see simkit/boilerplate.py): a regression guard.
    assert found >= 45, f"{found}/{total}"


def test_labelled_measures_are_rarely_marked_as_formula(flagged):
    queries = json.loads((EVAL_DIR / "queries_dev.json").read_text())
    marked = total = 0
    for query in queries:
        for relevant in query["relevant"]:
            if relevant["grade"] == 2:
                report = flagged[relevant["region"]]
                for evidence in relevant["evidence"]:
                    total += 1
                    marked += _in_spans(report, *_locate(report, evidence)) >= 0.5
    assert marked / total <= 0.1, f"{marked}/{total}"


def test_no_unit_with_grade2_evidence_is_flagged(flagged):
    queries = json.loads((EVAL_DIR / "queries_dev.json").read_text())
    for query in queries:
        for relevant in query["relevant"]:
            if relevant["grade"] != 2:
                continue
            report = flagged[relevant["region"]]
            for evidence in relevant["evidence"]:
                where = _locate(report, evidence)
                assert where is not None, evidence
                units = [u for u in report.units if u.start <= where[0] and where[1] <= u.end]
                assert not any(u.boilerplate for u in units), (query["id"], evidence)


def test_flagged_units_are_mostly_formula_spans(flagged):
    units = [u for report in flagged.values() for u in report.units if u.boilerplate]
    assert len(units) >= 3
    for report in flagged.values():
        for unit in report.units:
            if unit.boilerplate:
                assert _in_spans(report, unit.start, unit.end) >= 0.5, unit.text
    # The opening formula of 石狮's report is the textbook case.
    assert flagged["石狮市"].units[0].boilerplate


def test_too_few_regions_flags_nothing(flagged):
    stats = phrase_stats([(r.report.region, r.report.text) for r in list(flagged.values())[:2]])
    assert not stats.usable
    report = flag_report(next(iter(flagged.values())), stats)
    assert report.boilerplate_spans == []
    assert not any(u.boilerplate for u in report.units)


def test_stats_round_trip(tmp_path, flagged):
    stats = phrase_stats([(r.report.region, r.report.text) for r in flagged.values()])
    stats.save(tmp_path / "phrases.json")
    again = PhraseStats.load(tmp_path / "phrases.json")
    assert again == stats
    assert "习近平" in again.common
    assert again.frequent >= again.common >= again.universal
    assert "法治保障" in again.endings


def test_format_1_stats_still_load(tmp_path, flagged):
    stats = phrase_stats([(r.report.region, r.report.text) for r in flagged.values()])
    data = stats.to_json()
    data["format_version"] = 1
    del data["frequent"], data["frequent_share"], data["endings"]
    (tmp_path / "phrases.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    again = PhraseStats.load(tmp_path / "phrases.json")
    assert again.common == stats.common and again.frequent == frozenset()
