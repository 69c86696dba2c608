"""The labelled query files are well-formed: unique ids, zh/en, and evidence found in the labelled region's units."""

from __future__ import annotations

import json
from functools import cache

import pytest
from conftest import DATA, EXAMPLES

from simkit import parse_report
from simkit.evaluation.queries import normalize_for_match

REPORTS = {"石狮市": "shishi-2024", "泰顺县": "taishun-2023", "厦门市": "xiamen-2021",
           "四平市": "siping-2023", "泉州市泉港区": "quangang-2023"}
INDEXED = ("paragraph", "measure")


@cache
def units(region: str) -> tuple[str, ...]:
    """Normalized text of the indexed units (paragraphs and measures) of a region's example report."""
    parsed = parse_report(EXAMPLES / f"{REPORTS[region]}.txt")
    return tuple(normalize_for_match(p.text) for p in parsed.paragraphs if p.kind in INDEXED)


@pytest.mark.parametrize("name", ["queries.json", "queries_own.json"])
def test_query_labels_are_well_formed(name):
    queries = json.loads((DATA / name).read_text(encoding="utf-8"))
    ids = [q["id"] for q in queries]
    assert len(ids) == len(set(ids))
    problems = []
    for q in queries:
        assert q["lang"] in ("zh", "en"), q["id"]
        assert q["query"].strip() and q["topic"].strip(), q["id"]
        assert q["relevant"] and all(r["grade"] in (1, 2) for r in q["relevant"]), q["id"]
        assert len({r["region"] for r in q["relevant"]}) == len(q["relevant"]), q["id"]
        for label in q["relevant"] + q.get("hard_negatives", []):
            assert label["evidence"], q["id"]
            for evidence in label["evidence"]:
                if not 12 <= len(evidence) <= 40:
                    problems.append((q["id"], evidence, f"{len(evidence)} characters"))
                elif not any(normalize_for_match(evidence) in unit for unit in units(label["region"])):
                    problems.append((q["id"], evidence, f"in no indexed unit of {label['region']}"))
    assert not problems


def test_own_initiative_labels_are_well_formed():
    """``initiatives_own.json``: clusters.json's format plus ``shares_paragraph_with``, which must be exactly
    the other initiatives with evidence in the same indexed unit of the same region."""
    initiatives = json.loads((DATA / "initiatives_own.json").read_text(encoding="utf-8"))
    ids = [item["id"] for item in initiatives]
    assert len(ids) >= 10 and len(ids) == len(set(ids))
    problems, where = [], {}
    for item in initiatives:
        assert item["label_zh"].strip() and item["label_en"].strip(), item["id"]
        regions = [m["region"] for m in item["members"]]
        assert len(regions) >= 2 and len(set(regions)) == len(regions), item["id"]
        spots = where.setdefault(item["id"], set())
        for member in item["members"]:
            assert member["grade"] in (1, 2) and 1 <= len(member["evidence"]) <= 2, item["id"]
            for evidence in member["evidence"]:
                hits = {i for i, unit in enumerate(units(member["region"])) if normalize_for_match(evidence) in unit}
                if not 12 <= len(evidence) <= 40:
                    problems.append((item["id"], evidence, f"{len(evidence)} characters"))
                elif not hits:
                    problems.append((item["id"], evidence, f"in no indexed unit of {member['region']}"))
                spots.update((member["region"], i) for i in hits)
    assert not problems
    for item in initiatives:
        shared = sorted(other for other in ids if other != item["id"] and where[item["id"]] & where[other])
        assert item.get("shares_paragraph_with", []) == shared, item["id"]
    assert sum(1 for item in initiatives if item.get("shares_paragraph_with")) >= 4
