"""The approximate vector index (issue 21): chosen by size, calibrated at build time, filtered inside the
search, recorded in the manifest; the example corpus stays exact unless forced.

Vector-level tests use realistic vectors: the example index's real unit and sentence vectors recombined
(a point between two of them plus noise shaped like their spread), not uniform random ones.
"""

from __future__ import annotations

import json
import shutil

import faiss
import numpy as np
import pytest

import simkit.store.vectors as vectors_module
from simkit.api import open_index
from simkit.pipeline.rebuild import rebuild_index
from simkit.search.filters import Filters
from simkit.store.layout import current_version
from simkit.store.manifest import Manifest, ManifestError
from simkit.store.vectors import (
    EXACT_BELOW,
    EXACT_BELOW_ENV,
    VECTOR_FACTORY_ENV,
    VectorIndexError,
    VectorIndexSpec,
    configure_loaded,
    is_inverted_file,
    load_vector_index,
    make_vector_index,
    nlist_for,
    recall_at,
    save_vector_index,
    search_vectors,
    stored_form,
)

ROWS = 4000


@pytest.fixture(scope="module")
def clustered(demo_index):
    """4,000 rows and 100 queries recombined from the example's real vectors (see the module docstring)."""
    parts = demo_index.parts
    real = np.concatenate([parts.all_vectors(), np.asarray(parts.sentences.vectors, dtype=np.float32)])
    _, spread, axes = np.linalg.svd(real - real.mean(axis=0), full_matrices=False)
    spread = spread / np.sqrt(len(real))
    rng = np.random.default_rng(7)

    def rows(n: int) -> np.ndarray:
        first, second = rng.integers(0, len(real), n), rng.integers(0, len(real), n)
        w = rng.uniform(0, 0.5, (n, 1))
        x = (1 - w) * real[first] + w * real[second] + 0.5 * (rng.standard_normal((n, len(spread))) * spread) @ axes
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return rows(ROWS), rows(100)


@pytest.fixture(scope="module")
def approximate(clustered):
    vectors, _ = clustered
    return make_vector_index(vectors, VectorIndexSpec(exact_below=0, calibration_queries=300))


def _exact(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)[1]


def test_the_index_is_chosen_by_size():
    spec = VectorIndexSpec()
    assert spec.factory_for(EXACT_BELOW - 1) == "Flat"
    assert spec.factory_for(EXACT_BELOW) == f"IVF{nlist_for(EXACT_BELOW)},SQfp16"
    assert nlist_for(1_000_000) == 4096 and nlist_for(200_000) == 2048
    assert nlist_for(1000) <= 1000 // 39  # FAISS wants 39 training vectors per list
    assert VectorIndexSpec(exact_below=0).factory_for(50) == "Flat"  # too few rows to train lists
    assert VectorIndexSpec(factory="IVF8,SQ8").factory_for(10) == "IVF8,SQ8"


def test_spec_from_the_environment(monkeypatch):
    monkeypatch.delenv(EXACT_BELOW_ENV, raising=False)
    monkeypatch.delenv(VECTOR_FACTORY_ENV, raising=False)
    assert VectorIndexSpec.from_env() == VectorIndexSpec()
    monkeypatch.setenv(EXACT_BELOW_ENV, "0")
    monkeypatch.setenv(VECTOR_FACTORY_ENV, "IVF16,SQ8")
    assert VectorIndexSpec.from_env() == VectorIndexSpec(exact_below=0, factory="IVF16,SQ8")
    monkeypatch.setenv(EXACT_BELOW_ENV, "many")
    with pytest.raises(VectorIndexError, match=EXACT_BELOW_ENV):
        VectorIndexSpec.from_env()


def test_small_indexes_stay_exact(clustered):
    vectors, queries = clustered
    index, record = make_vector_index(vectors)
    assert type(index) is faiss.IndexFlatIP and not is_inverted_file(index)
    assert record == {"type": "IndexFlatIP", "metric": "inner_product", "ntotal": ROWS, "dimension": vectors.shape[1]}
    assert search_vectors(index, queries[0], 10)[1].tolist() == _exact(vectors, queries[:1], 10)[0].tolist()


def test_forced_inverted_file_is_calibrated_and_recalls_the_exact_top_10(clustered, approximate):
    vectors, queries = clustered
    index, record = approximate
    assert is_inverted_file(index)
    assert record["factory"] == f"IVF{nlist_for(ROWS)},SQfp16" and record["nlist"] == nlist_for(ROWS)
    calibration = record["calibration"]
    assert calibration["recall"] >= calibration["target"] == 0.97
    assert calibration["recall_by_nprobe"][str(record["nprobe"])] == calibration["recall"]
    assert faiss.extract_index_ivf(index).nprobe == record["nprobe"] < record["nlist"]
    found = np.stack([search_vectors(index, q, 10)[1] for q in queries])
    assert recall_at(found, _exact(vectors, queries, 10)) >= 0.95
    # Rows read back (direct map) are the vectors as stored: float16, within 1e-3.
    rows = np.arange(0, ROWS, 97)
    assert np.abs(index.reconstruct_batch(rows) - vectors[rows]).max() < 1e-3
    assert np.allclose(index.reconstruct_batch(rows), stored_form(index, vectors[rows]), atol=1e-6)


@pytest.mark.parametrize("scan", [True, False], ids=["scored-directly", "probed"])
@pytest.mark.parametrize("share", [1 / 30, 1 / 400, 3 / ROWS])
def test_filtered_search_returns_only_allowed_rows_and_as_many_as_asked(clustered, approximate, share, scan,
                                                                        monkeypatch):
    vectors, queries = clustered
    index, _ = approximate
    if not scan:  # through the inverted lists with a selector, as a large index would
        monkeypatch.setattr(vectors_module, "EXACT_SCAN_ROWS", 0)
    allowed = np.sort(np.random.default_rng(1).choice(ROWS, max(1, int(ROWS * share)), replace=False))
    hits = want = 0
    for q in queries[:30]:
        for n in (10, 200):
            scores, rows = search_vectors(index, q, n, allowed)
            assert len(rows) == min(n, len(allowed)) and np.isin(rows, allowed).all()
            assert np.all(np.diff(scores) <= 1e-6)
        exact = allowed[_exact(vectors[allowed], q[None], min(10, len(allowed)))[0]]
        hits += len(np.intersect1d(search_vectors(index, q, 10, allowed)[1], exact))
        want += len(exact)
    assert hits / want >= 0.95


def test_an_inverted_file_returns_every_row_asked_for(clustered, approximate):
    _, queries = clustered
    index, _ = approximate
    rows = search_vectors(index, queries[0], ROWS)[1]
    assert sorted(rows.tolist()) == list(range(ROWS))  # nprobe widened to every list
    assert len(search_vectors(index, queries[0], ROWS, np.arange(0, ROWS, 2))[1]) == ROWS // 2
    assert len(search_vectors(index, queries[0], 5, np.zeros(0, np.int64))[1]) == 0


def test_nprobe_survives_writing_and_the_manifest_sets_it(tmp_path, approximate):
    index, record = approximate
    path = tmp_path / "vectors.faiss"
    save_vector_index(index, path)
    loaded = load_vector_index(path)
    assert faiss.extract_index_ivf(loaded).nprobe == record["nprobe"]
    configure_loaded(loaded, {**record, "nprobe": 3})
    assert faiss.extract_index_ivf(loaded).nprobe == 3
    configure_loaded(loaded, {"type": "IndexIVFScalarQuantizer"})  # a manifest without nprobe: unchanged
    assert faiss.extract_index_ivf(loaded).nprobe == 3


def test_a_bad_factory_is_a_simkit_error(clustered):
    with pytest.raises(VectorIndexError, match="factory"):
        make_vector_index(clustered[0][:200], VectorIndexSpec(factory="IVF8,Nonsense"))


# --------------------------------------------------------------------------- the manifest


def _manifest_data(demo_index_dir):
    return json.loads((current_version(demo_index_dir).path / "manifest.json").read_text("utf-8"))


def test_manifests_without_the_approximate_fields_still_load(demo_index_dir):
    data = _manifest_data(demo_index_dir)
    assert set(data["index"]) == {"type", "metric", "ntotal", "dimension"}  # the example corpus stays exact
    assert Manifest.from_dict(data).index == data["index"]


def test_the_manifest_checks_the_approximate_fields(demo_index_dir, approximate):
    data = _manifest_data(demo_index_dir)
    record = {**approximate[1], "ntotal": data["index"]["ntotal"]}
    assert Manifest.from_dict({**data, "index": record}).index["nprobe"] == record["nprobe"]
    for bad, where in (({"nprobe": 0}, "index.nprobe"), ({"nprobe": record["nlist"] + 1}, "index.nprobe"),
                       ({"calibration": {**record["calibration"], "recall": "high"}}, "index.calibration.recall"),
                       ({"factory": 4}, "index.factory")):
        with pytest.raises(ManifestError, match=where):
            Manifest.from_dict({**data, "index": {**record, **bad}})


# --------------------------------------------------------------------------- the example corpus, forced approximate


@pytest.fixture(scope="module")
def forced_index(tmp_path_factory, demo_index_dir, examples_dir, embedder):
    """The example corpus rebuilt (vectors reused, nothing embedded) with an inverted file forced: 16 lists
    for its 172 units (more than FAISS would like to train, so that nprobe is below nlist)."""
    base = tmp_path_factory.mktemp("ann")
    shutil.copytree(examples_dir, base / "src")
    shutil.copytree(demo_index_dir, base / "index")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EXACT_BELOW_ENV, "0")
        patch.setenv(VECTOR_FACTORY_ENV, "IVF16,SQfp16")
        report = rebuild_index([base / "src"], base / "index", embedder=embedder, force=True)
    assert report.status == "published" and report.units.embedded == 0
    return base / "index"


@pytest.mark.slow
@pytest.mark.parametrize("scan", [True, False], ids=["scored-directly", "probed"])
def test_forced_approximate_index_on_the_example_corpus_keeps_the_region_guarantee(forced_index, demo_index, scan,
                                                                                   monkeypatch):
    if not scan:  # filters through the inverted lists, as on a large index
        monkeypatch.setattr(vectors_module, "EXACT_SCAN_ROWS", 0)
    manifest = current_version(forced_index).manifest
    assert manifest.index["factory"] == "IVF16,SQfp16" and 1 <= manifest.index["nprobe"] < 16
    assert manifest.index["calibration"]["recall"] >= 0.97
    every = {region.region for region in demo_index.search("法治", k=1000, mode="dense").regions}
    province = demo_index.search("法治", k=1, mode="dense").regions[0].province
    filtered = Filters(provinces=(province,))
    in_province = {r.region for r in demo_index.search("法治", k=1000, mode="dense", filters=filtered).regions}
    with open_index(forced_index) as index:
        assert is_inverted_file(index.parts.vectors)
        assert faiss.extract_index_ivf(index.parts.vectors).nprobe == manifest.index["nprobe"]
        for query in ("在乡镇推行一支队伍管执法的综合执法改革", "行政复议体制改革", "legal advisers for villages"):
            for mode in ("dense", "hybrid"):
                for k in (1, 3, len(every)):
                    found = index.search(query, k=k, mode=mode).regions
                    assert len(found) == min(k, len(every))
                found = index.search(query, k=len(every), mode=mode, filters=filtered).regions
                assert {r.region for r in found} == in_province
            exact = [r.region for r in demo_index.search(query, k=3, mode="dense").regions]
            assert [r.region for r in index.search(query, k=3, mode="dense").regions] == exact


def test_a_bad_threshold_is_refused_before_anything_is_embedded(monkeypatch, tmp_path, examples_dir):
    from simkit.pipeline.build import build_index

    monkeypatch.setenv(EXACT_BELOW_ENV, "1e5")
    with pytest.raises(VectorIndexError, match="whole number"):
        build_index([examples_dir], tmp_path / "index")
    with pytest.raises(VectorIndexError, match="whole number"):
        rebuild_index([examples_dir], tmp_path / "index")
    assert not (tmp_path / "index" / "versions").exists()
