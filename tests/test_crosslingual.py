"""English queries through CC-CEDICT (simkit.crosslingual): translations, structured BM25, persistence."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from simkit.crosslingual import FILE, Glossary, english_stems, is_mostly_latin
from simkit.errors import IndexLoadError
from simkit.lexical import LexicalIndex

VOCABULARY = ["视频", "短视频", "直播", "政协", "提案", "会议", "知识", "法律", "条例", "规章", "规定", "政府"]


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary.build(VOCABULARY)


def test_english_words_are_stemmed_without_function_words():
    assert english_stems("Using short videos and livestreams, before the meetings") == [
        "use", "short", "video", "livestream", "meet"]
    assert english_stems("legal-knowledge") == ["legal", "knowledg"]


def test_only_mostly_latin_queries_are_translated(glossary):
    assert is_mostly_latin("CPPCC proposals") and not is_mostly_latin("政协委员提案 CPPCC")
    assert glossary.translate("政协委员提案") == []
    assert glossary.translate("") == []


def test_translations_come_from_the_dictionary_and_the_vocabulary_only(glossary):
    words = glossary.translate("Using short videos and livestreams to spread legal knowledge")
    assert {"短视频", "视频", "直播", "知识"} <= set(words)
    assert set(words) <= set(VOCABULARY)
    # "short video" is a two-word sense: it needs both words in the query.
    assert "短视频" not in glossary.translate("a long video")
    assert glossary.translate("proposals from CPPCC members")[:2] == ["提案", "政协"]


def test_groups_keep_one_entry_per_english_word(glossary):
    groups = glossary.groups("regulations")
    assert len(groups) == 1 and {"条例", "规章", "规定"} <= set(groups[0])


def test_structured_query_counts_a_word_once_however_many_translations_it_has():
    texts = ["制定条例，修订规章，清理规定", "政府常务会议学习法律", "无关的内容"]
    index = LexicalIndex.build(texts)
    assert index.glossary is not None
    scores = index.scores_for("government meetings on regulations")
    # Row 0 holds three translations of one word, row 1 one translation of each of two words.
    assert scores[1] > scores[0] > 0 and scores[2] == 0
    assert index.search("government meetings on regulations", 3)[1][0] == 1


def test_matched_terms_highlight_translations():
    index = LexicalIndex.build(["开设“普法身边事”直播栏目，制作普法短视频", "其他工作"])
    text = "开设“普法身边事”直播栏目，制作普法短视频"
    spans = index.matched_terms("livestreams and short videos", text)
    marked = {text[s:e] for s, e in spans}
    assert "直播" in marked and any("视频" in m for m in marked)


def test_without_a_glossary_english_finds_nothing(tmp_path):
    index = LexicalIndex.build(["开设直播栏目，制作普法短视频"], translate=False)
    assert index.glossary is None and index.query_terms("livestreams") == []
    names = index.save(tmp_path)
    assert FILE not in names and LexicalIndex.load(tmp_path).glossary is None


def test_glossary_round_trip_and_damage(tmp_path):
    index = LexicalIndex.build(["开设直播栏目，制作普法短视频", "政协委员提案"])
    names = index.save(tmp_path / "saved")
    assert FILE in names
    data = json.loads((tmp_path / "saved" / FILE).read_text(encoding="utf-8"))
    assert data["format_version"] == 1 and data["source"].startswith("CC-CEDICT")
    loaded = LexicalIndex.load(tmp_path / "saved")
    for query in ("livestreams", "CPPCC proposals", "直播"):
        np.testing.assert_array_equal(loaded.scores_for(query), index.scores_for(query))
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "saved", damaged)
    (damaged / FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexLoadError, match=FILE):
        LexicalIndex.load(damaged)


def test_english_query_on_the_example_index_shows_chinese_evidence(demo_index):
    result = demo_index.search("Using short videos, livestreams and social-media accounts to spread legal knowledge",
                               k=5)
    quangang = next(r for r in result.regions if r.region == "泉州市泉港区")
    marked = {hit.text[s:e] for hit in quangang.hits for s, e in hit.highlights}
    assert "直播" in marked
    lexical = demo_index.search("livestreams", k=5, mode="lexical")
    assert lexical.regions and all("直播" in r.hits[0].text for r in lexical.regions)
