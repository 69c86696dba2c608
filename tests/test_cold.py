"""Issue 21's cold-start and corpus-size parts: sizes on open, `simkit verify`, int8 sentence vectors,
stored region profiles and capped postings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from simkit.api import open_index
from simkit.cli import cli
from simkit.errors import IndexLoadError, QueryError
from simkit.initiatives.peers import PROFILE_FILES
from simkit.store.latent import LatentIndex
from simkit.store.layout import current_version, file_entry
from simkit.store.lexical import LexicalIndex
from simkit.store.manifest import Manifest
from simkit.store.postings import add_postings, capped_depths, order_long_postings
from simkit.store.sentences import FILES, INT8_FILES, SentenceIndex, SentencePlan, quantize
from simkit.store.vectors import CALIBRATION_FILE

QUERIES = ("在乡镇推行一支队伍管执法的综合执法改革", "开展法治宣传教育，落实谁执法谁普法责任制",
           "free legal advisers for every village and community")


def _rewrite_manifest(version_path, edit) -> None:
    data = json.loads((version_path / "manifest.json").read_text(encoding="utf-8"))
    edit(data)
    Manifest.from_dict(data).write(version_path)


# --------------------------------------------------------------------------- verification


def test_verify_modes_and_the_verify_command_on_an_intact_index(index_copy):
    for verify in (True, False, "sizes", "checksums", "none"):
        open_index(index_copy, verify=verify).close()
    with pytest.raises(QueryError, match="verify='full'"):
        open_index(index_copy, verify="full")
    result = CliRunner().invoke(cli, ["verify", "--index", str(index_copy), "--json"])
    assert result.exit_code == 0, result.output
    (check,) = json.loads(result.stdout)
    version = current_version(index_copy)
    assert check["name"] == version.name and check["ok"] and check["current"] and check["problem"] is None
    assert check["files"] == len(version.manifest.files)
    assert check["bytes"] == sum(entry["bytes"] for entry in version.manifest.files.values())


def test_a_missing_file_is_refused_on_open_and_by_verify(index_copy):
    version = current_version(index_copy)
    (version.path / "phrases.json").unlink()
    with pytest.raises(IndexLoadError, match=r"phrases\.json: missing from the index; .*simkit rollback"):
        open_index(index_copy)
    result = CliRunner().invoke(cli, ["verify", "--index", str(index_copy)])
    assert result.exit_code == 1 and "phrases.json: missing" in result.output


# --------------------------------------------------------------------------- int8 sentence vectors


def test_quantize_keeps_cosines():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes, scales = quantize(vectors)
    assert codes.dtype == np.int8 and scales.dtype == np.float32 and np.abs(codes).max() == 127
    back = codes.astype(np.float32) * scales[:, None]
    cosines = (back * vectors).sum(axis=1) / np.linalg.norm(back, axis=1)
    assert cosines.min() >= 0.9999
    zero_codes, zero_scales = quantize(np.zeros((2, 4), dtype=np.float32))
    assert not zero_codes.any() and not zero_scales.any()


def test_int8_sentence_vectors_are_read_like_float16_ones(index_copy):
    """A version written with int8 sentence vectors (large indexes) answers like its float16 self."""
    version = current_version(index_copy)
    units = version.manifest.counts["units"]
    assert all(name in version.manifest.files for name in FILES)  # the example's size keeps float16
    with open_index(index_copy) as index:
        before = {q: index.search(q, k=3) for q in QUERIES}
    float16 = SentenceIndex(version.path, units)
    original = np.asarray(float16.vectors, dtype=np.float32)
    plan = SentencePlan([""] * len(original), np.asarray(float16.offsets), np.asarray(float16.spans))
    for name in FILES:
        (version.path / name).unlink()
    written = plan.save(version.path, original, int8_from=0)
    assert written == list(INT8_FILES)

    def edit(data):
        for name in FILES:
            data["files"].pop(name, None)
        data["files"].update({name: file_entry(version.path / name) for name in written})

    _rewrite_manifest(version.path, edit)
    int8 = SentenceIndex(version.path, units)
    back = int8.vectors[0:len(original)]
    cosines = (back * original).sum(axis=1) / np.linalg.norm(back, axis=1) / np.linalg.norm(original, axis=1)
    assert cosines.min() >= 0.999
    assert (version.path / "sentence_codes.npy").stat().st_size < (original.size * 2) * 0.55
    with open_index(index_copy, verify="checksums") as index:
        for query, old in before.items():
            new = index.search(query, k=3)
            assert [r.region for r in new.regions] == [r.region for r in old.regions]
            assert new.regions[0].hits[0].paragraph_id == old.regions[0].hits[0].paragraph_id


# --------------------------------------------------------------------------- stored region profiles


def test_region_profiles_are_stored_and_recommend_as_computed_ones(index_copy):
    version = current_version(index_copy)
    assert all(name in version.manifest.files for name in PROFILE_FILES)
    with open_index(index_copy) as index:
        profiles = index.peer_profiles
        assert profiles.stored
        stored = {region: index.recommend_for_region(region) for region in list(profiles.rows)[:3]}
        stored_centroids = dict(profiles.centroids)
        threshold = profiles.close_threshold()
    _rewrite_manifest(version.path, lambda data: [data["files"].pop(name) for name in PROFILE_FILES])
    with open_index(index_copy) as index:  # a version written before: computed from every vector
        profiles = index.peer_profiles
        assert not profiles.stored
        assert profiles.close_threshold() == threshold
        for region, centroid in stored_centroids.items():
            np.testing.assert_array_equal(profiles.centroids[region], centroid)
        for region, recommendations in stored.items():
            assert index.recommend_for_region(region) == recommendations
    assert any(stored.values())


def test_the_calibration_sample_is_stored_and_calibrates_as_the_vectors_do(index_copy):
    version = current_version(index_copy)
    assert CALIBRATION_FILE in version.manifest.files
    query = "在乡镇推行一支队伍管执法的综合执法改革"
    with open_index(index_copy) as index:
        stored = index.search(query, threshold=0.9).to_dict()
    _rewrite_manifest(version.path, lambda data: data["files"].pop(CALIBRATION_FILE))
    with open_index(index_copy) as index:  # a version written before: the sample read from the vectors
        assert index.search(query, threshold=0.9).to_dict() == stored
    assert stored["regions"]


def test_a_damaged_calibration_sample_is_named(index_copy):
    version = current_version(index_copy)
    np.save(version.path / CALIBRATION_FILE, np.zeros((3, 5), np.float32))
    _rewrite_manifest(version.path, lambda data: data["files"].update(
        {CALIBRATION_FILE: file_entry(version.path / CALIBRATION_FILE)}))
    with open_index(index_copy) as index, pytest.raises(IndexLoadError) as caught:
        index.search("法治宣传", threshold=0.9)
    assert str(CALIBRATION_FILE) in str(caught.value) and "rebuild the index" in str(caught.value)
    assert "\n" not in str(caught.value)


# --------------------------------------------------------------------------- capped postings


def test_long_postings_are_ordered_by_weight_and_read_up_to_the_cap():
    indptr = np.array([0, 5, 7])
    weights = np.array([0.1, 0.5, 0.3, 0.5, 0.2, 0.4, 0.9], dtype=np.float32)
    rows = np.array([0, 1, 2, 3, 4, 0, 1], dtype=np.int32)
    assert order_long_postings(indptr, weights, rows, cap=3) == 1
    assert rows.tolist() == [1, 3, 2, 4, 0, 0, 1]  # ties keep their order; the short term is left as it was
    scores = add_postings(np.zeros(5, np.float32), indptr, rows, weights, [(0, 2.0, 3), (1, 1.0, None)])
    np.testing.assert_allclose(scores, [0.4, 1.9, 0.6, 1.0, 0.0], rtol=1e-6)
    whole = add_postings(np.zeros(5, np.float32), indptr, rows, weights, [(0, 2.0, None), (1, 1.0, None)])
    np.testing.assert_allclose(whole, [0.6, 1.9, 0.6, 1.0, 0.4], rtol=1e-6)


def test_capped_depths_read_short_terms_whole_and_long_ones_by_weight():
    lengths = np.array([50, 500, 500, 500, 10_000])
    weights = np.array([9.0, 1.0, 2.0, 0.01, 100.0])
    assert capped_depths(lengths, weights, 100) == [None, 25, 25, 25, 400]  # between cap / 4 and 4 * cap
    assert capped_depths(lengths, np.ones(5), 100) == [None, 100, 100, 100, 100]
    assert capped_depths(lengths, weights, None) == [None] * 5


def test_latent_terms_with_a_cap_above_every_term_score_as_without(demo_index_dir):
    version = current_version(demo_index_dir)
    units = version.manifest.counts["units"]
    assert version.manifest.latent_terms["postings_cap"] >= units  # the cap does not bite at this size
    stored = LatentIndex.load(version.path, units, version.manifest.latent_terms["postings_cap"])
    packed = stored.packed_rows()
    uncapped = LatentIndex.from_packed(packed, stored.dim, cap=None)
    small = LatentIndex.from_packed(packed, stored.dim, cap=5)
    assert small.cap == 5 and uncapped.cap is None
    for row in (0, 7, 42):
        terms = packed[row, :256]
        query = (terms[terms >= 0].astype(np.int64), packed[row, 256:][terms >= 0])
        np.testing.assert_array_equal(stored.scores_for(query), uncapped.scores_for(query))
        capped = small.scores_for(query)
        assert (capped <= uncapped.scores_for(query) + 1e-6).all()
        assert 0 < np.count_nonzero(capped) <= 4 * 5 * len(query[0])


def test_bm25_scores_are_bm25s_own(tmp_path):
    """Postings added term by term with checked indexing give bm25s's scores, to the bit."""
    texts = ["推行乡镇综合行政执法改革", "开展民法典宣传月活动", "综合行政执法改革一支队伍管执法",
             "行政执法公示制度", "法治宣传教育"] * 4
    LexicalIndex.build(texts).save(tmp_path)
    index = LexicalIndex.load(tmp_path)
    vocab = index._model.vocab_dict
    for query in ("综合行政执法改革", "法治宣传", "执法"):
        ids = [vocab[t] for t in index.query_terms(query)]
        np.testing.assert_array_equal(index.scores_for(query), index._model.get_scores_from_ids(ids))


def test_a_bm25_index_with_a_row_out_of_range_is_named_when_searched(tmp_path):
    """Opening checks shapes only (reading every row index costs hundreds of MB at 1M units)."""
    LexicalIndex.build(["行政执法公示制度", "法治宣传教育", "综合行政执法改革"]).save(tmp_path)
    indices = np.load(tmp_path / "lexical.indices.npy")
    indices[:] = 99
    np.save(tmp_path / "lexical.indices.npy", indices)
    index = LexicalIndex.load(tmp_path)
    with pytest.raises(IndexLoadError, match=r"lexical\.indices\.npy: corrupt lexical index \(row index out of range"):
        index.search("行政执法", 3)
