"""Search filters: Filters → allowed vector rows (SQL) → FAISS search restricted to those rows."""

from __future__ import annotations

import numpy as np
import pytest

from simkit.errors import QueryError
from simkit.search.filters import Filters, allowed_rows, unknown_names, where_clause
from simkit.store.vectors import build_vector_index, search_vectors

ALL_REGIONS = {"泉州市泉港区", "石狮市", "四平市", "泰顺县", "厦门市"}
QUERY = "在乡镇推行一支队伍管执法的综合执法改革"


# ---------------------------------------------------------------- helpers


def _faiss():
    from simkit.store.vectors import _faiss

    return _faiss()


def _assert_exact(found: tuple[np.ndarray, np.ndarray], vectors: np.ndarray, query: np.ndarray, n: int,
                  allowed: np.ndarray) -> None:
    """``found`` must be the ``n`` nearest allowed rows, best first (near-ties may swap)."""
    scores, rows = found
    allowed = np.unique(allowed)
    brute = vectors[allowed] @ query
    order = np.lexsort((allowed, -brute))[: min(n, len(allowed))]
    expected_rows, expected_scores = allowed[order], brute[order]
    assert len(rows) == len(expected_rows)
    assert len(set(rows.tolist())) == len(rows)
    assert set(rows.tolist()) <= set(allowed.tolist())
    assert np.all(np.diff(scores) <= 1e-6)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    np.testing.assert_allclose(scores, vectors[rows] @ query, atol=1e-5)
    for got, want, got_score, want_score in zip(rows, expected_rows, scores, expected_scores):
        assert got == want or abs(got_score - want_score) < 1e-5


def _clustered(rng: np.random.Generator, count: int, dim: int = 384, clusters: int = 200) -> np.ndarray:
    """Unit vectors in clusters sharing a common direction, like sentence embeddings (cosines compressed)."""
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    common = rng.standard_normal(dim).astype(np.float32)
    centers += 2.0 * common / np.linalg.norm(common)
    vectors = centers[rng.integers(0, clusters, count)]
    vectors += rng.standard_normal((count, dim)).astype(np.float32) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _vectors_of(index) -> np.ndarray:
    return np.asarray(index.reconstruct_n(0, int(index.ntotal)), dtype=np.float32)


def _regions(demo_index, filters: Filters, k: int = 5, text: str = QUERY) -> list[str]:
    """Regions of the nearest admitted units, best first; widens like SimkitIndex until k regions or all seen."""
    query = demo_index.embedder.embed_query(text)
    rows = allowed_rows(demo_index.store, filters)
    total = int(demo_index.parts.vectors.ntotal)
    fetch = 16
    while True:
        _, found = search_vectors(demo_index.parts.vectors, query, fetch, rows)
        units = demo_index.store.units_at(found.tolist())
        regions = list(dict.fromkeys(units[row].region for row in found.tolist()))
        if len(regions) >= k or fetch >= total:
            return regions[:k]
        fetch *= 4


def _units(demo_index, filters: Filters):
    rows = allowed_rows(demo_index.store, filters)
    assert rows is not None
    return list(demo_index.store.units_at(rows.tolist()).values())


# ---------------------------------------------------------------- Filters itself


def test_filters_normalize_and_describe():
    f = Filters(provinces="福建", regions=["石狮市", " 石狮市 "], years=[2023, "2022"], roles=("Plan",),
                adcode_prefix="350500")
    assert f.provinces == ("福建",)
    assert f.regions == ("石狮市",)
    assert f.years == (2022, 2023)
    assert f.roles == ("plan",)
    assert f.adcode_prefix == "3505"
    assert not f.is_empty
    assert f.describe() == "province 福建; region 石狮市; year 2022, 2023; adcode 3505*; role plan"
    assert Filters().is_empty and Filters(include_boilerplate=True).is_empty
    assert Filters().describe() == "no filters"
    assert Filters(since=2022, until=2023).describe() == "years 2022–2023"
    assert Filters(roles=["plan"]).to_dict()["roles"] == ["plan"]
    assert hash(f) == hash(Filters(provinces=("福建",), regions=("石狮市",), years=(2022, 2023), roles=("plan",),
                                   adcode_prefix="3505"))


@pytest.mark.parametrize("kwargs", [{"roles": ("plans",)}, {"adcode_prefix": "35a"}, {"since": 2024, "until": 2022},
                                    {"years": ("last year",)}])
def test_bad_filters_are_query_errors(kwargs):
    with pytest.raises(QueryError):
        Filters(**kwargs)


def test_where_clause_keeps_values_out_of_the_sql():
    where, params = where_clause(Filters(regions=("x'OR1=1--",)))
    assert "OR1=1" not in where and "x'OR1=1--" in params


# ---------------------------------------------------------------- allowed rows on the demo index


def test_no_filter_excludes_only_boilerplate(demo_index):
    store = demo_index.store
    assert allowed_rows(store, Filters(include_boilerplate=True)) is None
    rows = allowed_rows(store, Filters())
    assert rows.dtype == np.int64 and np.all(np.diff(rows) > 0)
    units = store.units_at(range(int(demo_index.parts.vectors.ntotal)))
    assert rows.tolist() == sorted(row for row, unit in units.items() if not unit.boilerplate)
    assert len(rows) < len(units)  # the demo corpus has boilerplate units
    with_boilerplate = allowed_rows(store, Filters(include_boilerplate=True, roles=("overview",)))
    assert any(store.units_at(with_boilerplate.tolist())[r].boilerplate for r in with_boilerplate.tolist())


def test_province_is_forgiving(demo_index):
    for name in ("浙江", "浙江省"):
        assert {u.region for u in _units(demo_index, Filters(provinces=(name,)))} == {"泰顺县"}
    fujian = {u.region for u in _units(demo_index, Filters(provinces=("福建",)))}
    assert fujian == {"泉州市泉港区", "石狮市", "厦门市"}


def test_region_and_adcode_filters(demo_index):
    assert {u.region for u in _units(demo_index, Filters(regions=("石狮市", "泰顺县")))} == {"石狮市", "泰顺县"}
    assert {u.region for u in _units(demo_index, Filters(regions=("石狮",)))} == {"石狮市"}
    assert {u.region for u in _units(demo_index, Filters(regions=("泉港区",)))} == {"泉州市泉港区"}
    assert {u.region for u in _units(demo_index, Filters(adcode_prefix="3505"))} == {"石狮市", "泉州市泉港区"}
    assert {u.region for u in _units(demo_index, Filters(adcode_prefix="35"))} == {"石狮市", "泉州市泉港区", "厦门市"}


def test_year_and_role_filters(demo_index):
    assert {u.year for u in _units(demo_index, Filters(since=2023))} == {2023, 2024}
    assert {u.year for u in _units(demo_index, Filters(until=2023))} == {2021, 2023}
    assert {u.year for u in _units(demo_index, Filters(years=(2021, 2024)))} == {2021, 2024}
    plans = _units(demo_index, Filters(roles=("plan",)))
    assert plans and {u.role for u in plans} == {"plan"}
    both = _units(demo_index, Filters(roles=("plan", "problem"), provinces=("福建",)))
    assert {u.role for u in both} == {"plan", "problem"} and "四平市" not in {u.region for u in both}


def test_unknown_names_match_nothing_and_are_reported(demo_index):
    store = demo_index.store
    nowhere = Filters(regions=("朝阳区", "石狮市"), provinces=("广西", "福建"), exclude_regions=("四平",))
    assert {u.region for u in _units(demo_index, nowhere)} == {"石狮市"}
    assert unknown_names(store, nowhere) == ["广西", "朝阳区"]
    assert len(allowed_rows(store, Filters(regions=("火星市",)))) == 0
    assert unknown_names(store, Filters(regions=("火星市",))) == ["火星市"]


# ---------------------------------------------------------------- filtered search on the demo index


def test_filtered_search_by_province(demo_index):
    assert _regions(demo_index, Filters(provinces=("浙江",))) == ["泰顺县"]


def test_exclude_region_still_returns_every_other_region(demo_index):
    regions = _regions(demo_index, Filters(exclude_regions=("四平市",)))
    assert "四平市" not in regions and set(regions) == ALL_REGIONS - {"四平市"}


def test_since_drops_older_reports(demo_index):
    regions = _regions(demo_index, Filters(since=2023))
    assert "厦门市" not in regions and set(regions) == ALL_REGIONS - {"厦门市"}


def test_role_filter_hits_are_all_of_that_role(demo_index):
    query = demo_index.embedder.embed_query("下一步将加强行政执法队伍建设")
    rows = allowed_rows(demo_index.store, Filters(roles=("plan",)))
    _, found = search_vectors(demo_index.parts.vectors, query, 10, rows)
    assert len(found) == 10
    assert {u.role for u in demo_index.store.units_at(found.tolist()).values()} == {"plan"}


def test_adcode_prefix_search(demo_index):
    assert set(_regions(demo_index, Filters(adcode_prefix="3505"))) == {"石狮市", "泉州市泉港区"}


def test_filter_is_applied_inside_the_search_not_after_top_n(demo_index):
    """The allowed rows all rank below the first n rows overall; post-filtering top-n would return none."""
    index = demo_index.parts.vectors
    vectors = _vectors_of(index)
    query = demo_index.embedder.embed_query(QUERY)
    ranking = np.argsort(-(vectors @ query), kind="stable")
    n = 5
    allowed = np.sort(ranking[-12:])  # the 12 least similar units
    unfiltered = search_vectors(index, query, n)[1]
    assert not set(unfiltered.tolist()) & set(allowed.tolist())  # filtering after top-n would leave nothing
    found = search_vectors(index, query, n, allowed)
    _assert_exact(found, vectors, query, n, allowed)
    assert len(found[1]) == n


def test_real_filter_rows_give_the_nearest_admitted_units_in_order(demo_index):
    index = demo_index.parts.vectors
    vectors = _vectors_of(index)
    query = demo_index.embedder.embed_query(QUERY)
    for filters in (Filters(regions=("四平市",), roles=("plan", "problem")), Filters(provinces=("浙江",)),
                    Filters(exclude_regions=("石狮市", "泰顺县"), since=2023)):
        rows = allowed_rows(demo_index.store, filters)
        assert len(rows)
        for n in (1, 5, len(rows) + 3):
            _assert_exact(search_vectors(index, query, n, rows), vectors, query, n, rows)


def test_excluded_regions_are_taken_out_of_the_cached_rows_exactly(demo_index):
    """The handle derives an exclusion from the same filter without it; SQL alone must agree."""
    for filters in (Filters(exclude_regions=("石狮市",)),
                    Filters(exclude_regions=("四平",), provinces=("吉林", "福建")),
                    Filters(exclude_regions=("泰顺县", "厦门市"), include_boilerplate=True),
                    Filters(exclude_regions=("朝阳区",), roles=("plan",))):
        expected = allowed_rows(demo_index.store, filters)
        assert demo_index.searcher.allowed_rows_for(filters).rows.tolist() == expected.tolist(), filters
        rows = demo_index.store.rows_where("1")
        assert rows.tolist() == sorted(rows.tolist())


# ---------------------------------------------------------------- search_vectors on generated vectors


@pytest.fixture(scope="module")
def clustered_index():
    rng = np.random.default_rng(20240501)
    vectors = _clustered(rng, 20_000)
    queries = _clustered(rng, 6)
    return build_vector_index(vectors), vectors, queries, rng


@pytest.mark.parametrize("size", [1, 5, 500, 5000])
def test_selector_equals_brute_force_on_clustered_vectors(clustered_index, size):
    index, vectors, queries, rng = clustered_index
    for query in queries:
        allowed = rng.choice(len(vectors), size, replace=False)
        for n in (1, 10, 100):
            _assert_exact(search_vectors(index, query, n, allowed), vectors, query, n, allowed)


def test_allowed_rows_in_one_cluster_far_from_the_query(clustered_index):
    index, vectors, queries, _ = clustered_index
    query = queries[0]
    scores = vectors @ query
    allowed = np.argsort(scores)[:300]  # the 300 rows least like the query
    _assert_exact(search_vectors(index, query, 50, allowed), vectors, query, 50, allowed)


def test_generic_index_types_use_a_bitmap_selector(clustered_index):
    """A non-flat index (here an IDMap over a flat one) is filtered through IDSelectorBitmap, still exactly."""
    index, vectors, queries, rng = clustered_index
    faiss = _faiss()
    mapped = faiss.IndexIDMap(faiss.IndexFlatIP(vectors.shape[1]))
    mapped.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    for size in (5, 777, 5000):
        allowed = rng.choice(len(vectors), size, replace=False)
        _assert_exact(search_vectors(mapped, queries[1], 20, allowed), vectors, queries[1], 20, allowed)
    last = np.array([len(vectors) - 1])  # the last bit of the bitmap
    assert search_vectors(mapped, queries[2], 3, last)[1].tolist() == [len(vectors) - 1]


def test_allowed_rows_edge_cases(clustered_index):
    index, vectors, queries, _ = clustered_index
    query = queries[2]
    plain = search_vectors(index, query, 7)
    assert len(plain[1]) == 7
    everything = search_vectors(index, query, 7, np.arange(len(vectors)))
    assert plain[1].tolist() == everything[1].tolist()
    messy = np.array([42, 7, 42, -1, len(vectors) + 5, 19_999, 7])  # unsorted, duplicates, out of range
    scores, rows = search_vectors(index, query, 10, messy)
    assert sorted(rows.tolist()) == [7, 42, 19_999]
    _assert_exact((scores, rows), vectors, query, 10, np.array([7, 42, 19_999]))
    empty = search_vectors(index, query, 10, np.zeros(0, np.int64))
    assert len(empty[0]) == len(empty[1]) == 0
    assert len(search_vectors(index, query, 0, messy)[1]) == 0
    assert search_vectors(index, query, 3, [5, 6, 7])[1].dtype == np.int64
