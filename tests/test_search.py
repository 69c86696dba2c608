"""Search on a real index of the five example reports, with the real model."""

from __future__ import annotations

import pytest

from simkit.errors import NotFoundError, QueryError
from simkit.reading.segment import embedding_text
from simkit.search.settings import DEFAULT_SETTINGS

TOWNSHIP_ENFORCEMENT = "在乡镇推行一支队伍管执法的综合执法改革"
REFORM_WORDS = ("综合执法", "一支队伍管执法", "综合行政执法", "执法权", "赋权")


def _about_reform(text: str) -> bool:
    return any(word in text for word in REFORM_WORDS)


def test_township_enforcement_query_finds_four_regions_with_that_reform(demo_index):
    result = demo_index.search(TOWNSHIP_ENFORCEMENT, k=5)
    on_topic = [r for r in result.regions if any(_about_reform(h.text) for h in r.hits)]
    assert len(on_topic) >= 4, [(r.region, r.hits[0].text[:60]) for r in result.regions]
    assert result.regions[0].score >= result.regions[-1].score


def test_english_query_finds_chinese_paragraphs_on_the_same_measure(demo_index):
    result = demo_index.search("bundle related services so people apply once at one window", k=5)
    top_texts = [r.hits[0].text for r in result.regions]
    assert sum("一件事" in text or "一窗" in text for text in top_texts) >= 2, top_texts


@pytest.mark.parametrize("query", [
    TOWNSHIP_ENFORCEMENT,
    "把跨部门分头办理的关联事项打包成主题套餐，一次申请、一窗联办。",
    "利用短视频、直播和新媒体账号传播法律知识。",
])  # English queries (no lexical ranking) fuse latent terms instead: tests/test_latent.py
def test_hybrid_ranks_regions_by_their_places_in_the_dense_and_lexical_rankings(demo_index, query):
    dense = [r.region for r in demo_index.search(query, k=None, mode="dense").regions]
    lexical = [r.region for r in demo_index.search(query, k=None, mode="lexical").regions]
    hybrid = demo_index.search(query, k=None, mode="hybrid").regions

    def fused(region: str) -> float:
        k = DEFAULT_SETTINGS.rrf_k + 1
        return sum(weight / (k + (ranking.index(region) if region in ranking else len(ranking)))
                   for weight, ranking in ((1.0, dense), (DEFAULT_SETTINGS.lexical_weight, lexical)) if ranking)

    assert [r.region for r in hybrid] == sorted(dense, key=lambda region: -fused(region))
    assert [r.score for r in hybrid] == [round(fused(r.region), 4) for r in hybrid]


def test_regions_are_distinct_ranked_and_carry_metadata(demo_index):
    result = demo_index.search(TOWNSHIP_ENFORCEMENT, k=5, hits=2)
    names = [r.region for r in result.regions]
    assert len(names) == len(set(names)) == 5
    scores = [r.score for r in result.regions]
    assert scores == sorted(scores, reverse=True)
    for region in result.regions:
        assert 1 <= len(region.hits) <= 2
        # hybrid: reciprocal ranks, at most both rankings' first place
        assert 0 < region.score <= (1 + DEFAULT_SETTINGS.lexical_weight) / (DEFAULT_SETTINGS.rrf_k + 1)
        hit = region.hits[0]
        assert hit.year in (2021, 2023, 2024)
        assert hit.title is None or "报告" in hit.title
    # Four of the five reports state a title (四平's text starts with its first sentence).
    assert sum(r.hits[0].title is not None for r in result.regions) >= 4
    assert {r.province for r in result.regions} >= {"福建省", "浙江省", "吉林省"}


def test_k_limits_the_number_of_regions(demo_index):
    assert len(demo_index.search(TOWNSHIP_ENFORCEMENT, k=2).regions) == 2


def test_json_contract(demo_index):
    data = demo_index.search(TOWNSHIP_ENFORCEMENT, k=3).to_dict()
    assert set(data) >= {"query", "model", "regions"}
    assert data["model"] == "multilingual-e5-small"
    region = data["regions"][0]
    assert set(region) >= {"region", "province", "score", "hits"}
    assert set(region["hits"][0]) >= {"paragraph_id", "document", "title", "year", "section", "text", "score"}


def test_similar_excludes_the_source_region_and_finds_the_same_measure(demo_index):
    source = demo_index.search(TOWNSHIP_ENFORCEMENT, k=1).regions[0]
    paragraph_id = source.hits[0].paragraph_id
    result = demo_index.similar(paragraph_id, k=4)
    assert source.region not in [r.region for r in result.regions]
    assert len(result.regions) == 4
    assert any(_about_reform(r.hits[0].text) for r in result.regions)
    with_own = demo_index.similar(paragraph_id, k=5, exclude_same_region=False)
    assert all(h.paragraph_id != paragraph_id for r in with_own.regions for h in r.hits)
    # With a threshold the source (its own best match) neither qualifies its region nor comes back.
    above = demo_index.similar(paragraph_id, k=None, exclude_same_region=False, threshold=0.99)
    assert all(h.paragraph_id != paragraph_id for r in above.regions for h in r.hits)
    assert all(r.calibrated >= 0.99 for r in above.regions)


def test_paragraph_lookup_round_trips(demo_index):
    hit = demo_index.search(TOWNSHIP_ENFORCEMENT, k=1).regions[0].hits[0]
    record = demo_index.paragraph(hit.paragraph_id)
    assert record.text == hit.text
    assert record.section == hit.section
    assert record.document == hit.document
    with pytest.raises(NotFoundError, match="no-such-id"):
        demo_index.paragraph("no-such-id")


def test_empty_query_is_rejected(demo_index):
    with pytest.raises(QueryError):
        demo_index.search("   ")


def test_units_fit_the_model_window(demo_index, embedder):
    rows = demo_index.store.units_at(range(demo_index.manifest.counts["units"]))
    assert len(rows) == demo_index.manifest.counts["units"]
    assert max(embedder.count_tokens(embedding_text(u)) for u in rows.values()) <= 512
    assert min(len(u.text) for u in rows.values()) >= 15


def test_similar_on_a_parent_paragraph_uses_its_measures(demo_index):
    parents = demo_index.store._db.execute("SELECT id FROM paragraphs WHERE kind = 'parent'").fetchall()
    assert parents
    parent_id = parents[0][0]
    children = demo_index.store.children_of(parent_id)
    assert len(children) >= 2 and all(c.parent_id == parent_id for c in children)
    result = demo_index.similar(parent_id, k=3, exclude_same_region=False)
    returned = {h.paragraph_id for r in result.regions for h in r.hits}
    assert not returned & {c.id for c in children}
    assert len(result.regions) == 3


def test_boilerplate_is_left_out_unless_asked(demo_index):
    flagged = demo_index.store._db.execute(
        "SELECT id, text FROM paragraphs WHERE boilerplate = 1 AND row IS NOT NULL").fetchall()
    assert flagged
    unit_id, text = flagged[0]
    default = demo_index.search(text, k=5, hits=5)
    assert unit_id not in {h.paragraph_id for r in default.regions for h in r.hits}
    assert not any(h.boilerplate for r in default.regions for h in r.hits)
    included = demo_index.search(text, k=5, hits=5, include_boilerplate=True)
    assert included.regions[0].hits[0].paragraph_id == unit_id
    assert included.regions[0].hits[0].boilerplate
