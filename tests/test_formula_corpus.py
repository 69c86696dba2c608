"""Boilerplate detection at corpus scale: the generated formula corpus (simkit.evaluation.formula_corpus)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DATA

from simkit.evaluation.formula_corpus import FORMULAS, generate, measure, parse_corpus, reword, write_corpus
from simkit.evaluation.many_regions import load_paragraphs
from simkit.reading.boilerplate import PhraseStats, flag_reports

PARAGRAPHS = DATA / "many_regions" / "paragraphs.json"


def test_generator_is_deterministic_and_labels_its_sentences():
    paragraphs = load_paragraphs(PARAGRAPHS)
    first, again = generate(paragraphs, reports=12, seed=3), generate(paragraphs, reports=12, seed=3)
    assert [r.text for r in first.reports] == [r.text for r in again.reports]
    assert first.plant_share == again.plant_share
    assert [r.text for r in generate(paragraphs, reports=12, seed=4).reports] != [r.text for r in first.reports]
    assert len({r.region for r in first.reports}) == 12
    for report in first.reports:
        kinds = {p.kind for p in report.planted}
        assert kinds == {"formula", "measure"}
        for p in report.planted:
            sentence = report.simplified[p.start:p.end]
            assert sentence.endswith(("。", "；")) and len(sentence) > 4
        assert len(report.text) == len(report.simplified)
    assert all(0.2 <= share <= 0.7 for share in first.plant_share.values())


def test_rewording_varies_a_formula_but_keeps_its_slots_filled():
    import random

    rng = random.Random(1)
    slots = {"year": "2023", "next": "2024", "lv": "县", "we": "我县", "all": "全县", "name": "某县", "prov": "某省"}
    template = FORMULAS["leadership"][0]
    wordings = {reword(template, rng, slots) for _ in range(40)}
    assert len(wordings) > 3
    assert all("{" not in w and "[" not in w and "(" not in w for w in wordings)
    assert all("第一责任人职责" in w for w in wordings)


@pytest.fixture(scope="module")
def corpus_150(tmp_path_factory):
    corpus = generate(load_paragraphs(PARAGRAPHS), reports=150, seed=19)
    folder = write_corpus(corpus, tmp_path_factory.mktemp("formula"))
    assert (folder / "labels.json").exists()
    parsed = {p.report.id: p for p in parse_corpus(folder)}
    return corpus, [parsed[Path(r.filename).stem] for r in corpus.reports]


def test_planted_formula_is_flagged_and_measures_are_not_at_150_reports(corpus_150, tmp_path):
    corpus, parsed = corpus_150
    assert sum(r.traditional for r in corpus.reports) >= 5  # traditional script is read as simplified
    flagged, stats = flag_reports(parsed)
    found = measure(corpus, flagged)
    formula, measures = found["formula"], found["measure"]
    # Measured (seed 19): 92.3 % of 1,911 planted formula sentences, 0.17 % of 3,564 measure sentences, 5 of
    # 556 units made of planted formula left unflagged in roles initiatives are built from (docs/method/boilerplate.md).
    assert formula["in_spans"] / formula["planted"] >= 0.9, formula
    assert measures["in_spans"] / measures["planted"] <= 0.05, measures
    assert measures["in_boilerplate_units"] / measures["planted"] <= 0.01, measures
    assert found["formula_units_left_to_initiatives"] <= 0.02 * found["formula_units"], found
    # The statistics persist and judge the corpus alike when reloaded.
    stats.save(tmp_path / "phrases.json")
    assert stats.recurrent and PhraseStats.load(tmp_path / "phrases.json") == stats


def test_detection_gets_stronger_as_reports_are_added(corpus_150):
    corpus, parsed = corpus_150
    recall = []
    for size in (10, 50, 150):
        part = replace(corpus, reports=corpus.reports[:size])
        flagged, _ = flag_reports(parsed[:size])
        found = measure(part, flagged)
        recall.append(found["formula"]["in_spans"] / found["formula"]["planted"])
        assert found["measure"]["in_spans"] / found["measure"]["planted"] <= 0.05
    # Measured: 0.81, 0.91, 0.92 (before the recurrent 5-grams: 0.77, 0.65, 0.60).
    assert recall[0] <= recall[1] <= recall[2]


def _script():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "make_formula_corpus.py"
    spec = importlib.util.spec_from_file_location("make_formula_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_initiative_is_built_from_planted_formula(tmp_path, capsys):
    """Issue 19: a real index of a small generated corpus (16 reports, ~30 s), its stored initiatives and the
    clustering timed on its own (scripts/make_formula_corpus.py --initiatives)."""
    import json

    assert _script().main(["--out", str(tmp_path), "--reports", "16", "--seed", "19", "--initiatives"]) == 0
    found = json.loads(capsys.readouterr().out)["initiatives"]
    # Measured (seed 19, 16 reports): 25 initiatives, none built from formula, 14 of 843 of their sentences
    # planted formula (leadership formulas not yet recurrent enough to be flagged at 16 reports).
    assert found["initiatives"] >= 5 and found["built_from_planted_formula"] == 0, found["built"]
    assert found["formula_sentence_share"] <= 0.05, found["sentence_kinds"]
    assert found["largest_formula_share"]["share"] < 0.5, found["largest_formula_share"]
    assert found["sentence_kinds"]["measure"] > found["sentence_kinds"]["other"] > 0  # others: the lead sentences
    assert found["corpus_regions"] == 16 and 2 <= found["median_regions"] <= found["max_regions"] <= 16
    clustering = found["clustering"]
    assert clustering["granularity"] == found["granularity"] == "sentence"
    assert clustering["items"] == found["clustered_sentences"] > 0 and clustering["reproduces_build"]
    assert 0 < clustering["seconds"] < 60 and clustering["table_seconds"] >= 0 and clustering["cores"] >= 1
    assert 0 < clustering["rss_before_mb"] <= clustering["peak_rss_mb"] < 4096

    # The definition does catch an initiative made of planted formula: one built of the planted leadership
    # formula of every report is counted, with its key.
    from simkit.evaluation.formula_corpus import formula_in_initiatives
    from simkit.results import Initiative, InitiativeUnit

    labels = json.loads((tmp_path / "labels.json").read_text(encoding="utf-8"))
    units = []
    for report in labels["reports"]:
        formula = [p["text"] for p in report["planted"] if p["key"] == "leadership.1"]
        if not formula:
            continue
        measure_texts = [p["text"] for p in report["planted"] if p["kind"] == "measure"][:1 if not units else 0]
        text = " ".join(formula + measure_texts)  # the whitespace between them is normalised away
        spans, at = [], 0
        for sentence in formula + measure_texts:
            spans.append([at, at + len(sentence)])
            at += len(sentence) + 1
        units.append(InitiativeUnit(f"{report['file']}:1", report["region"], 2023, "leadership", text,
                                    Path(report["file"]).stem, spans=spans))
    assert len(units) >= 3
    made = Initiative("c9999", "formula", [], sorted({u.region for u in units}), 0.9, units)
    counted = formula_in_initiatives(labels, [made])
    assert counted["built_from_planted_formula"] == 1 and counted["built"][0]["formula_keys"] == ["leadership.1"]
    assert counted["sentence_kinds"] == {"formula": len(units), "measure": 1, "other": 0}
