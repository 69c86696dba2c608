"""English queries translated to the index's Chinese words through CC-CEDICT (simkit/search/translation.py)."""

from __future__ import annotations

import json

import pytest

from simkit.search.engine import crosslingual_query
from simkit.search.settings import SearchSettings
from simkit.search.translation import GlossTable, stems

ENTRIES = [
    ("法律援助", ["legal aid"]),
    ("援助", ["to help; to assist; aid"]),
    ("调解", ["to mediate; mediation (law)"]),
    ("复议", ["reconsideration (law)"]),
    ("县", ["county"]),  # one character: never a translation
    ("诈骗", ["to defraud; fraud"]),  # not a word of the index below
    ("乡镇", ["township", "CL:個|个[ge4]", "surname Xiang"]),
    ("结对", ["to form a pair"]),
    ("帮带", ["to mentor new staff"]),
]
VOCABULARY = {"法律援助", "援助", "调解", "复议", "县", "乡镇", "结对", "帮带"}


@pytest.fixture()
def table() -> GlossTable:
    return GlossTable.for_vocabulary(VOCABULARY.__contains__, ENTRIES)


def test_stems_meet_across_inflections_and_leave_out_stopwords():
    assert stems("Handling suggestions of the people") == stems("handle suggestion people")
    assert stems("to enforce a law") == ("enforc", "law")
    assert stems("Law-enforcement") == ("law", "enforc")


def test_longest_gloss_wins_and_only_index_words_of_two_characters_are_translations(table):
    translation = table.translate("Legal aid and mediation for the county; fraud")
    assert translation.phrases == (("legal aid", ("法律援助",)), ("mediat", ("调解",)))
    assert translation.words == ["法律援助", "调解"]
    assert translation.text == "法律援助 调解"


def test_a_word_without_a_gloss_of_its_own_can_fall_back_to_the_glosses_it_ends(table):
    query = "Officers paired to mentor new staff"
    assert table.translate(query).words == ["帮带"]  # "mentor new staff" is a gloss; "paired" begins none
    fallback = table.translate(query, fallback=True)
    assert ("pair", ("结对",)) in fallback.phrases and fallback.words == ["结对", "帮带"]
    # A word that is a gloss of its own keeps it: "aid" (援助) also ends "legal aid" (法律援助), which stays out.
    assert table.translate("aid", fallback=True).words == ["援助"]
    assert table.heads()["aid"] == ("法律援助",)


def test_the_engine_falls_back_only_when_its_settings_say_so(demo_index):
    query = "Experienced officers are paired with new recruits and mentor them"
    plain = demo_index.search(query, k=5).translated
    fallback = demo_index.search(query, k=5, settings=SearchSettings(translation_fallback=True)).translated
    assert "资深" in fallback and "资深" not in plain  # "experienced" ends a gloss ("highly experienced"…)
    assert set(plain) <= set(fallback)


def test_which_queries_are_searched_across_languages(demo_index):
    lexical = demo_index.lexical
    assert crosslingual_query(lexical, "A mobile APP for enforcement officers")  # shares only "app"
    assert crosslingual_query(lexical, "犇犇犇")  # Chinese, but no word the index holds
    assert not crosslingual_query(lexical, "APP")  # only indexed tokens: BM25 finds them
    assert not crosslingual_query(lexical, "The 枫桥经验 model")


def test_parenthesised_senses_classifiers_and_surnames_are_not_glosses(table):
    assert table.translate("Administrative reconsideration").words == ["复议"]
    assert table.translate("townships").words == ["乡镇"]
    assert table.translate("Xiang").words == []
    assert table.translate("Chinese measure words").words == []


def test_the_table_is_kept_in_the_cache_and_a_damaged_one_is_made_again(tmp_path):
    made = GlossTable.cached(VOCABULARY.__contains__, "ab" * 32, tmp_path, ENTRIES)
    [kept] = tmp_path.glob("glosses-*.json")
    again = GlossTable.cached(lambda word: False, "ab" * 32, tmp_path)  # read back: the predicate is not asked
    assert again.translate("legal aid").words == made.translate("legal aid").words == ["法律援助"]
    kept.write_text("{not json", encoding="utf-8")
    remade = GlossTable.cached(VOCABULARY.__contains__, "ab" * 32, tmp_path, ENTRIES)
    assert remade.translate("mediation").words == ["调解"]
    assert json.loads(kept.read_text(encoding="utf-8"))


def test_an_english_query_is_ranked_by_its_translation_in_the_reports_words(demo_index):
    result = demo_index.search("Using short videos and livestreams to spread legal knowledge", k=5)
    assert "translated" in result.rankings
    assert {"视频", "直播"} <= set(result.translated)
    assert result.to_dict()["translated"] == result.translated
    texts = [hit.text for region in result.regions for hit in region.hits]
    assert any("视频" in text or "直播" in text for text in texts)


def test_an_english_query_sharing_a_latin_word_with_the_reports_is_still_translated(demo_index):
    query = "Enforcement officers handle cases on the spot with a mobile APP"
    assert demo_index.lexical.query_terms(query) == ["app"]  # the reports say "APP掌上执法"
    result = demo_index.search(query, k=5)
    assert "translated" in result.rankings and "lexical" not in result.rankings
    assert {"现场", "应用"} <= set(result.translated)  # on the spot, app
    # Asked for BM25 alone, the query still gets it: its one shared word ranks the paragraphs holding it.
    lexical = demo_index.search(query, k=5, mode="lexical")
    assert lexical.regions and all("app" in r.hits[0].text.lower() for r in lexical.regions)


def test_translation_can_be_left_out_and_a_chinese_query_never_uses_it(demo_index):
    off = SearchSettings(translation_weight=0.0, translation_evidence=False)
    result = demo_index.search("Using short videos and livestreams to spread legal knowledge", k=5, settings=off)
    assert "translated" not in result.rankings and result.translated == []
    chinese = demo_index.search("利用短视频和直播开展普法宣传", k=5)
    assert chinese.rankings == ["dense", "lexical"] and chinese.translated == []


def test_a_phrase_with_several_translations_counts_once_in_a_structured_query():
    import numpy as np

    from simkit.store.lexical import LexicalIndex

    lexical = LexicalIndex.build(["开展法律援助和人民调解", "提供援助服务", "调解纠纷", "推进政务公开"])
    both = lexical.scores_for("法律援助 调解")
    best = lexical.scores_for_alternatives(["法律援助 调解"])
    assert np.allclose(best, np.maximum(lexical.scores_for("法律援助"), lexical.scores_for("调解")))
    assert (best <= both + 1e-6).all() and best[0] < both[0]  # the row with both words counts one of them
    two_groups = lexical.scores_for_alternatives(["法律援助 调解", "纠纷"])
    assert np.allclose(two_groups, best + lexical.scores_for("纠纷"))
    scores, rows = lexical.search(["法律援助 调解", "纠纷"], 10)
    assert set(rows.tolist()) == {0, 1, 2} and (scores > 0).all()
