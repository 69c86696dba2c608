"""The corpus generator of scripts/bench_build.py: deterministic, unique unit texts, one region per report.

Fast: nothing here loads a model or builds an index; the generated reports are parsed by simkit's reader.
"""

from __future__ import annotations

from pathlib import Path

from conftest import load_script

bench_build = load_script("bench_build")


def test_generated_reports_parse_as_distinct_regions_with_unique_units(tmp_path: Path) -> None:
    from simkit.pipeline.ingest import ingest_reports

    corpus = bench_build.generate(tmp_path / "a", 150, seed=3, per_report=40)
    parsed, skipped, warnings = ingest_reports([tmp_path / "a"])
    assert not skipped and not warnings
    assert len(parsed) == corpus.reports == len(corpus.files) >= 4
    units = [u for p in parsed for u in p.units]
    assert len(units) == corpus.units >= 150
    assert len({u.text for u in units}) == len(units), "a unit text repeats"
    regions = [p.report.region for p in parsed]
    assert None not in regions and len(set(regions)) == len(parsed) == corpus.regions
    assert (corpus.duplicate_unit_texts, corpus.undetected_regions) == (0, 0)
    for p in parsed:
        report = p.report
        assert report.year in bench_build.YEARS
        assert report.title == f"{report.region}人民政府关于{report.year}年度法治政府建设情况的报告"
        assert {u.role for u in p.units} >= {"overview", "measure", "problem", "leadership", "plan"}


def test_generation_is_deterministic_per_seed(tmp_path: Path) -> None:
    first = bench_build.generate(tmp_path / "a", 80, seed=5)
    again = bench_build.generate(tmp_path / "b", 80, seed=5)
    other = bench_build.generate(tmp_path / "c", 80, seed=6)
    texts = [f.read_text(encoding="utf-8") for f in first.files]
    assert texts == [f.read_text(encoding="utf-8") for f in again.files]
    assert texts != [f.read_text(encoding="utf-8") for f in other.files]


def test_projection_scales_only_the_encode_stage() -> None:
    result = bench_build.projection(100.0, {"ingest": 5.0, "encode": 80.0, "write": 10.0, "total": 95.0}, 1000,
                                    [1, 4])
    scale = bench_build.PROJECTED_UNITS / 1000
    assert result["one_machine_hours"] == round(100.0 * scale / 3600, 2)
    assert result["workers_hours"] == {"1": round(100.0 * scale / 3600, 2), "4": round(40.0 * scale / 3600, 2)}
