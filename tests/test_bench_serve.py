"""The checks of scripts/bench_serve.py: percentiles, and whether each answer names a version that existed.

Fast: nothing here starts a server or loads a model (the load test itself is run by hand, docs/serve.md)."""

from __future__ import annotations

from conftest import load_script

bench = load_script("bench_serve")


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (bench.percentile(values, 50), bench.percentile(values, 95), bench.percentile(values, 99)) == (50, 95, 99)
    assert bench.percentile([], 50) is None
    assert bench.percentile([3.0], 99) == 3.0
    assert bench.latency_summary([0.001, 0.002])["p50"] == 1.0


def test_the_timeline_sees_versions_appear_and_go(tmp_path):
    (tmp_path / "versions" / "v1").mkdir(parents=True)
    (tmp_path / "CURRENT").write_text("v1\n")
    timeline = bench.Timeline()
    timeline.look(tmp_path, 0.0)
    (tmp_path / "versions" / "v2").mkdir()
    (tmp_path / "CURRENT").write_text("v2\n")
    timeline.look(tmp_path, 1.0)
    (tmp_path / "versions" / "v1").rmdir()
    timeline.look(tmp_path, 2.0)
    assert timeline.first_seen == {"v1": 0.0, "v2": 1.0}
    assert timeline.current_since == {"v1": 0.0, "v2": 1.0}
    assert timeline.gone == {"v1": 2.0}


def test_version_checks_count_each_kind_of_impossible_answer():
    timeline = bench.Timeline(first_seen={"v1": 0.0, "v2": 10.0}, gone={"v1": 20.0})
    good = [bench.Answer("s", 1, 2, 200, "v1"), bench.Answer("s", 19, 21, 200, "v1"),
            bench.Answer("s", 11, 12, 200, "v2"), bench.Answer("s", 5, 6, 503, None)]
    assert bench.version_checks(good, timeline)["ok"]
    bad = [bench.Answer("s", 1, 2, 200, "v9"), bench.Answer("s", 1, 2, 200, None),
           bench.Answer("s", 1, 2, 200, "v2"), bench.Answer("s", 21, 22, 200, "v1")]
    assert bench.version_checks(bad, timeline) == {"unknown_version": 2, "before_published": 1, "after_removed": 1,
                                                   "ok": False}
    assert bench.summary(good, 10.0)["failed"] == 1
