"""Who reported, through the store, the filters and the CLI: issuer kinds, departments shown with their
region, reports without a region standing on their own, --metadata and NAME.json sidecars (no model needed)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from simkit.cli import cli
from simkit.reading.parse import parse_report
from simkit.search.filters import Filters, allowed_rows, unknown_names
from simkit.store.database import Store, write_store

FORMS = Path(__file__).parent / "data" / "forms"
NAMES = ["dept-shenzhen-transport.txt", "gov-shenzhen-longhua.txt", "dept-xixian-justice.txt", "gov-xixian-trap.txt",
         "joint-dehua.txt", "gov-chaoyang-ambiguous.txt", "dept-unknown-civil.txt", "kind-plan-xiping.txt",
         "trad-luojiang.txt"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    reports = [parse_report(FORMS / name) for name in NAMES]
    rows, n = {}, 0
    for report in reports:
        for unit in report.units:
            rows[unit.id] = n
            n += 1
    path = tmp_path_factory.mktemp("store") / "store.sqlite"
    write_store(path, reports, rows)
    return Store(path)


def _reporters(store: Store, filters: Filters) -> set[str]:
    rows = allowed_rows(store, filters)
    assert rows is not None
    return {u.reporter for u in store.units_at(rows.tolist()).values()}


def test_reporters_group_departments_with_their_region_and_unknown_reports_alone(store: Store) -> None:
    everything = _reporters(store, Filters(include_boilerplate=True, years=range(2000, 2030)))
    assert {"深圳市 · 交通运输局", "深圳市龙华区", "息县 · 司法局", "息县", "德化县", "泉州市洛江区",
            "朝阳区人民政府 [gov-chaoyang-ambiguous]", "县民政局 [dept-unknown-civil]"} <= everything
    assert "unknown" not in everything


def test_filters_on_issuers(store: Store) -> None:
    assert _reporters(store, Filters(issuer_kinds=["department"])) == {
        "深圳市 · 交通运输局", "息县 · 司法局", "县民政局 [dept-unknown-civil]", "西平县 · 人民政府办公室"}
    assert _reporters(store, Filters(issuer_kinds="party-government")) == {"德化县"}
    assert _reporters(store, Filters(issuers="司法局")) == {"息县 · 司法局"}
    assert _reporters(store, Filters(regions="息县")) == {"息县", "息县 · 司法局"}
    assert _reporters(store, Filters(regions="息县 · 司法局")) == {"息县 · 司法局"}
    assert _reporters(store, Filters(regions="unknown")) == {"朝阳区人民政府 [gov-chaoyang-ambiguous]",
                                                             "县民政局 [dept-unknown-civil]"}
    assert "县民政局 [dept-unknown-civil]" not in _reporters(store, Filters(exclude_regions="unknown"))
    assert _reporters(store, Filters(report_kinds="plan")) == {"西平县 · 人民政府办公室"}
    assert unknown_names(store, Filters(regions=["深圳市 · 交通运输局", "unknown", "石狮市"])) == ["石狮市"]


def test_units_of_traditional_reports_carry_their_original_script(store: Store) -> None:
    rows = allowed_rows(store, Filters(regions="泉州市洛江区"))
    units = list(store.units_at(rows.tolist()).values())
    assert units and all(u.original is not None and len(u.original) == len(u.text) for u in units)
    report = store.report(units[0].document_id)
    assert report.report.script == "traditional" and report.report.issuer_kind == "government"
    assert store.report("gov-chaoyang-ambiguous").report.region_candidates == ("北京市朝阳区", "长春市朝阳区")


def test_a_store_of_an_older_simkit_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE documents (id TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL, title TEXT,
            region TEXT, province TEXT, city TEXT, adcode TEXT, year INTEGER, issuer TEXT, addressee TEXT,
            published TEXT, doc_number TEXT, source_format TEXT, text TEXT NOT NULL);
        CREATE TABLE paragraphs (id TEXT PRIMARY KEY, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
            section TEXT NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
            kind TEXT NOT NULL, role TEXT NOT NULL, parent_id TEXT, boilerplate INTEGER NOT NULL, row INTEGER UNIQUE);
        CREATE TABLE boilerplate_spans (document_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL);
        INSERT INTO documents VALUES ('a', 'a.txt', 'x', 'T', NULL, NULL, NULL, NULL, 2023, NULL, NULL, NULL, NULL,
            'text', '某某工作取得新进展，全年办理案件三十件。');
        INSERT INTO paragraphs VALUES ('a:1', 'a', 0, '', '某某工作取得新进展，全年办理案件三十件。', 0, 20,
            'paragraph', 'measure', NULL, 0, 0);
    """)
    db.commit()
    db.close()
    old = Store(path)
    unit = old.units_at([0])[0]
    assert (unit.reporter, unit.issuer_kind, unit.original) == ("unknown", None, None)
    assert old.documents()[0]["reporter"] == "unknown" and old.report("a").report.report_kind == "report"
    assert allowed_rows(old, Filters(regions="unknown")).tolist() == [0]
    assert allowed_rows(old, Filters(issuer_kinds="government")).tolist() == []
    assert allowed_rows(old, Filters(report_kinds="report")).tolist() == [0]


def test_ingest_with_metadata_and_sidecars(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    for name in ("dept-notitle-unknown.txt", "sidecar-json.txt", "sidecar-json.json", "gov-hexian.txt"):
        (folder / name).write_bytes((FORMS / name).read_bytes())
    sheet = tmp_path / "reports.csv"
    sheet.write_text("file,region,year,issuer,url\ndept-notitle-unknown.txt,息县,2023,息县司法局,https://x.example/1\n",
                     encoding="utf-8")
    out = tmp_path / "units.jsonl"
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--out", str(out), "--metadata", str(sheet)])
    assert result.exit_code == 0, result.output
    docs = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        docs[record["document"]] = record
    assert len(docs) == 3  # the NAME.json is not read as a report
    assert docs["dept-notitle-unknown"]["reporter"] == "息县 · 司法局"
    assert (docs["sidecar-json"]["region"], docs["sidecar-json"]["issuer_kind"]) == ("厦门市", "department")
    assert docs["gov-hexian"]["region"] == "和县"


def test_metadata_errors_are_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_bytes((FORMS / "gov-hexian.txt").read_bytes())
    sheet = tmp_path / "reports.csv"
    sheet.write_text("file,region\nb.txt,和县\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--out", str(tmp_path / "u.jsonl"),
                                       "--metadata", str(sheet)])
    assert result.exit_code == 1
    assert f"Error: {sheet} line 2: file 'b.txt' is not among the reports given" in result.output
    sheet.write_text("file,region\na.txt,不存在县\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--out", str(tmp_path / "u.jsonl"),
                                       "--metadata", str(sheet)])
    assert result.exit_code == 1 and "line 2: region '不存在县' is not a known region" in result.output
