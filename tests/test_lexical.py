"""BM25 over jieba words (simkit.store.lexical) on the real example reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from simkit.errors import IndexLoadError
from simkit.pipeline.sources import collect_files, parse_reports
from simkit.store.lexical import FILES, STOPWORDS, LexicalIndex, tokenize

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"


def folded(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@pytest.fixture(scope="module")
def units() -> list[tuple[str, str]]:
    """(region, text) of every unit of the example reports, in index row order."""
    files, _ = collect_files([EXAMPLES])
    parsed, _, _ = parse_reports(files)
    return [(p.report.region or "unknown", u.text) for p in parsed for u in p.units]


@pytest.fixture(scope="module")
def index(units) -> LexicalIndex:
    return LexicalIndex.build([text for _, text in units])


@pytest.fixture(scope="module")
def saved(index, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("lexical")
    index.save(directory)
    return directory


def test_tokenize_drops_stopwords_punctuation_and_whitespace():
    words = [t for t in tokenize("坚持和发展新时代“枫桥经验”， 加强 工作。", "words")]
    assert "枫桥" in words and "经验" in words
    assert not set(words) & {"坚持", "和", "加强", "工作", "“", "”", "，", "。", " "}
    assert all(t.strip() == t and t for t in tokenize("坚持和发展新时代“枫桥经验”， 加强 工作。"))
    assert tokenize("，。、  \n") == [] and tokenize("") == []
    assert {"的", "加强", "推进", "工作", "建设", "开展"} <= STOPWORDS


def test_tokenize_normalizes_width_and_case():
    assert tokenize("ＡＢＣ１２３", "words") == ["abc123"]
    assert tokenize("Legal Knowledge", "words") == ["legal", "knowledge"]


def test_default_tokens_include_bigrams_of_chinese_runs():
    tokens = tokenize("一件事一次办")
    assert "bg:件事" in tokens and "bg:次办" in tokens
    with pytest.raises(ValueError, match="variant"):
        tokenize("x", "letters")


def test_exact_phrase_ranks_a_unit_containing_it_first(index, units):
    scores, rows = index.search("一件事一次办", 5)
    assert len(rows) and scores[0] > 0
    assert "一件事一次办" in folded(units[rows[0]][1])
    assert list(scores) == sorted(scores, reverse=True)


def test_short_query_matches_longer_phrase(index, units):
    _, rows = index.search("一件事", 20)
    assert "一件事" in folded(units[rows[0]][1])
    assert any("一件事一次办" in folded(units[r][1]) for r in rows)


def test_civil_code_month_finds_several_regions(index, units):
    _, rows = index.search("民法典宣传月", 10)
    regions = {units[r][0] for r in rows if "民法典" in units[r][1]}
    assert len(regions) >= 3


def test_allowed_mask_is_applied_before_top_n(index, units):
    query, n = "民法典宣传", 3
    unfiltered_scores, unfiltered = index.search(query, n)
    assert len(unfiltered) == n
    allowed = np.ones(len(units), dtype=bool)
    allowed[unfiltered] = False  # hide the best rows: a filter after top-n would leave nothing
    matching_allowed = int(((index.scores_for(query) > 0) & allowed).sum())
    assert matching_allowed >= n
    scores, rows = index.search(query, n, allowed=allowed)
    assert len(rows) == n
    assert allowed[rows].all()
    assert not set(rows.tolist()) & set(unfiltered.tolist())
    assert scores.max() <= unfiltered_scores.min()


def test_allowed_mask_of_one_region(index, units):
    region = "泰顺县"
    allowed = np.array([r == region for r, _ in units])
    _, rows = index.search("法治宣传", 1000, allowed=allowed)
    assert len(rows) and {units[r][0] for r in rows} == {region}
    assert len(rows) == int(((index.scores_for("法治宣传") > 0) & allowed).sum())
    with pytest.raises(ValueError, match="shape"):
        index.search("法治宣传", 5, allowed=np.ones(3, dtype=bool))


def test_scores_for_covers_every_row_and_agrees_with_search(index, units):
    scores = index.scores_for("信用修复")
    assert scores.shape == (len(units),) and scores.dtype == np.float32
    top_scores, rows = index.search("信用修复", 5)
    np.testing.assert_allclose(scores[rows], top_scores)
    assert (index.scores_for("，。") == 0).all()
    assert len(index.search("", 5)[1]) == 0 and len(index.search("信用修复", 0)[1]) == 0


def test_english_query_returns_few_or_no_matches(index):
    scores, rows = index.search("Leading cadres have to pass a legal-knowledge test before taking up a new post.", 5)
    assert len(rows) <= 5 and (scores > 0).all()


def test_save_load_round_trip(index, saved):
    assert sorted(p.name for p in saved.iterdir()) == sorted(FILES)
    for name in FILES:
        if name.endswith(".npy"):
            np.load(saved / name, allow_pickle=False)
    loaded = LexicalIndex.load(saved)
    assert len(loaded) == len(index) and loaded.variant == index.variant
    for query in ("一件事一次办", "民法典宣传月", "行政机关负责人出庭应诉", "smart dog management"):
        np.testing.assert_array_equal(loaded.scores_for(query), index.scores_for(query))
        for a, b in zip(loaded.search(query, 10), index.search(query, 10)):
            np.testing.assert_array_equal(a, b)


def test_save_returns_the_file_names(index, tmp_path):
    names = index.save(tmp_path / "lexical")
    assert sorted(names) == sorted(FILES) and all((tmp_path / "lexical" / n).is_file() for n in names)


@pytest.mark.parametrize("name", FILES)
def test_missing_file_is_an_index_load_error(saved, tmp_path, name):
    for file in saved.iterdir():
        if file.name != name:
            (tmp_path / file.name).write_bytes(file.read_bytes())
    with pytest.raises(IndexLoadError, match="rebuild") as caught:
        LexicalIndex.load(tmp_path)
    assert name in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["lexical.data.npy", "lexical.indptr.npy", "lexical.vocab.json", "lexical.json"])
def test_corrupt_file_is_an_index_load_error(saved, tmp_path, name):
    for file in saved.iterdir():
        data = file.read_bytes()
        (tmp_path / file.name).write_bytes(data[: len(data) // 2] if file.name == name else data)
    with pytest.raises(IndexLoadError, match="rebuild") as caught:
        LexicalIndex.load(tmp_path)
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_inconsistent_arrays_are_an_index_load_error(saved, tmp_path):
    for file in saved.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    np.save(tmp_path / "lexical.indices.npy", np.zeros(3, dtype=np.int32))
    with pytest.raises(IndexLoadError, match="lexical.indices.npy"):
        LexicalIndex.load(tmp_path)
    np.save(tmp_path / "lexical.indices.npy", np.load(saved / "lexical.indices.npy"))
    (tmp_path / "lexical.vocab.json").write_text('["民法典"]', encoding="utf-8")
    with pytest.raises(IndexLoadError, match="lexical.vocab.json"):
        LexicalIndex.load(tmp_path)
    (tmp_path / "lexical.vocab.json").write_bytes((saved / "lexical.vocab.json").read_bytes())
    meta = json.loads((saved / "lexical.json").read_text(encoding="utf-8"))
    (tmp_path / "lexical.json").write_text(json.dumps({**meta, "format": 99}), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="lexical.json"):
        LexicalIndex.load(tmp_path)


def test_matched_terms_point_at_the_query_terms(index):
    text = "持续开展“民法典”主题宣传月活动，发放各类民法典宣传材料15000余份。"
    spans = index.matched_terms("民法典宣传月", text)
    found = [text[s:e] for s, e in spans]
    # Adjacent matches merge into one highlighted span ("民法典宣传").
    assert sum("民法典" in f for f in found) == 2 and any("宣传" in f for f in found)
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_matched_terms_prefer_longer_terms_and_map_folded_offsets(index):
    # Query terms come from the index vocabulary: "15000" is indexed, so its full-width form matches.
    text = "发放材料１５０００余份，行政诉讼中负责人出庭应诉"
    spans = index.matched_terms("15000份 行政诉讼出庭", text)
    found = [text[s:e] for s, e in spans]
    assert any("１５０００" in f for f in found) and "行政诉讼" in found and any("出庭" in f for f in found)
    assert "行政" not in found  # covered by the longer 行政诉讼
    assert index.matched_terms("的", text) == [] and index.matched_terms("民法典", "") == []


def test_empty_and_stopword_only_texts(tmp_path):
    idx = LexicalIndex.build(["的了和", "民法典宣传"])
    idx.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    scores, rows = loaded.search("民法典", 5)
    assert rows.tolist() == [1] and scores[0] > 0
    empty = LexicalIndex.build([])
    assert len(empty) == 0 and len(empty.search("民法典", 5)[1]) == 0


def test_library_is_silent_and_caches_jieba_where_configured(tmp_path):
    env = {**os.environ, "SIMKIT_CACHE_DIR": str(tmp_path / "cache")}
    code = "from simkit.store.lexical import LexicalIndex; LexicalIndex.build(['民法典宣传月']).search('民法典', 3)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert (tmp_path / "cache" / "jieba.cache").is_file()
