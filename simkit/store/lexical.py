"""The lexical half of hybrid retrieval: BM25 over Chinese words, persisted without pickle.

Text is normalized (NFKC, Latin lowercased), segmented with jieba and stripped of
punctuation, whitespace and :data:`STOPWORDS`; each contiguous run of Chinese
characters also contributes its character bigrams (the ``"words+bigrams"`` variant,
the best of the variants measured in docs/method/search.md), so that a query for 一件事 finds
一件事一次办 however jieba cuts either. BM25 scores come from bm25s.

Row ``i`` of a :class:`LexicalIndex` is ``texts[i]`` at build time, the same row
numbering as the FAISS vectors. :meth:`LexicalIndex.save` writes flat files named
``lexical.*`` next to the other files of an index version::

    lexical.json          format, tokenizer variant, row count, library versions
    lexical.params.json   bm25s parameters (method, k1, b, num_docs, …)
    lexical.vocab.json    token → column of the score matrix (UTF-8 JSON)
    lexical.data.npy      BM25 score matrix in CSC form: float32 scores,
    lexical.indices.npy   int32 rows,
    lexical.indptr.npy    and int64 column pointers (plain .npy, loaded memory-mapped)

A query's score array is the sum of its terms' stored BM25 scores, added term by term with checked
indexing (:func:`simkit.store.postings.add_postings`: bm25s's own sums, which do not check rows). The
postings are not capped: every posting of a query's terms is read (~5 ms at a million units,
docs/method/benchmarks.md).

Nothing is pickled: every array is loaded with ``allow_pickle=False``.

jieba's dictionary (slow to build, quicker from its cache; timed in
docs/method/benchmarks.md) is loaded on the first call that segments text, into a
private ``jieba.Tokenizer`` whose cache lives in ``$SIMKIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/simkit``, else ``~/.cache/simkit`` (the system temp dir if none of
those is writable). jieba's log messages are
silenced; simkit never prints.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simkit.errors import IndexLoadError
from simkit.store.postings import add_postings

if TYPE_CHECKING:  # pragma: no cover
    import bm25s
    import jieba

LEXICAL_FORMAT = 1
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_TOKEN = re.compile(r"[0-9a-z]+")
_MAX_WORD = 8
VARIANTS = ("words", "search", "words+bigrams")
"""Tokenizer variants: jieba's precise mode, its search mode (``cut_for_search``: long
words also yield their dictionary sub-words), or precise mode plus the character
bigrams of every run of Chinese characters."""
DEFAULT_VARIANT = "words+bigrams"

META = "lexical.json"
PARAMS = "lexical.params.json"
VOCAB = "lexical.vocab.json"
DATA = "lexical.data.npy"
INDICES = "lexical.indices.npy"
INDPTR = "lexical.indptr.npy"
FILES = (META, PARAMS, VOCAB, DATA, INDICES, INDPTR)
"""Every file :meth:`LexicalIndex.save` writes, all at the top of the directory."""

_FUNCTION_WORDS = (
    # Particles, prepositions, conjunctions, pronouns, copulas, measure words, time and place fillers.
    "的 地 得 了 着 过 之 其 和 与 及 以及 或 或者 并 并且 而 而且 同时 等 等等 在 于 对 对于 为 为了",
    "以 将 把 被 由 从 向 至 到 按 按照 根据 依据 通过 经过 围绕 关于 是 有 也 都 又 还 就 即 均",
    "各 每 该 此 这 这些 那 那些 我 我们 我市 我区 我县 本 个 项 中 上 下 内 外 后 前 一 一些 一批",
    "一系列 不 没有 无 已 已经 正在 目前 进行 以上 以下 方面 相关 有关 其中 以来 年度 全年",
)
_GENERIC_PHRASING = (
    # Verbs and qualifiers that nearly every measure in a report carries.
    "坚持 加强 推进 推动 深入 全面 进一步 持续 不断 切实 扎实 认真 积极 有效 工作 建设 开展",
    "深化 强化 完善 健全 落实 提升 提高 实现 着力 大力 努力 充分 严格 稳步 全力 聚焦 注重",
    "坚决 高度 重视 有力 有序 取得 成效 明显 显著 情况 要求 部署 各项 各类 各级",
)
_ENGLISH = ("a an the of to in on for and or with by at from as is are be was were this that these those it its",)
STOPWORDS: frozenset[str] = frozenset(" ".join(_FUNCTION_WORDS + _GENERIC_PHRASING + _ENGLISH).split())
"""Words that carry no topic: function words and the generic phrasing of government reports
(坚持 加强 推进 … 工作 建设 开展). Dropped from documents and queries alike; matched
against whole jieba tokens (after normalization), so 建设 is dropped but 法治政府建设 is not."""

_TOKEN_RE = re.compile(r"[\w]", re.UNICODE)
_CJK_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

_jieba_lock = threading.Lock()
_jieba_tokenizer: jieba.Tokenizer | None = None


def cache_dir() -> Path:
    """Where jieba's dictionary cache is kept (see the module docstring)."""
    from simkit.config import user_cache_dir

    return user_cache_dir()


def segmenter() -> jieba.Tokenizer:
    """The shared, lazily initialized jieba tokenizer (thread-safe; quiet)."""
    global _jieba_tokenizer
    if _jieba_tokenizer is not None:
        return _jieba_tokenizer
    with _jieba_lock:
        if _jieba_tokenizer is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.CRITICAL)
            tokenizer = jieba.Tokenizer()
            directory = cache_dir()
            try:
                directory.mkdir(parents=True, exist_ok=True)
                writable = os.access(directory, os.W_OK)
            except OSError:
                writable = False
            tokenizer.tmp_dir = str(directory) if writable else tempfile.gettempdir()
            tokenizer.initialize()
            _jieba_tokenizer = tokenizer
    return _jieba_tokenizer


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become half-width) and lowercase."""
    return unicodedata.normalize("NFKC", text).lower()


def has_chinese(text: str) -> bool:
    """Whether ``text`` holds a Chinese character (of the ranges words are matched in)."""
    return _HAN_RUN.search(text) is not None


def latin_tokens(text: str) -> list[str]:
    """The Latin-letter and digit tokens of ``text`` as a query is matched by them (normalized)."""
    return _LATIN_TOKEN.findall(normalize(text))


def _keep(token: str) -> bool:
    """A term worth indexing: has a letter or digit, is no stopword, is not a lone Latin letter."""
    if not _TOKEN_RE.search(token) or token in STOPWORDS:
        return False
    return not (len(token) == 1 and token.isascii() and token.isalpha())


def _words(text: str, variant: str) -> list[str]:
    tokenizer = segmenter()
    if variant == "search":
        return [t.strip() for t in tokenizer.cut_for_search(text)]
    return [t.strip() for t in tokenizer.cut(text)]


def tokenize(text: str, variant: str = DEFAULT_VARIANT) -> list[str]:
    """Index terms of ``text``: normalized jieba words without punctuation or stopwords.

    With ``"words+bigrams"`` each run of Chinese characters also yields its
    character bigrams (``bg:`` prefixed, so they never collide with two-character words),
    except bigrams made entirely of a stopword.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown tokenizer variant {variant!r}; use one of {', '.join(VARIANTS)}")
    normalized = normalize(text)
    if not normalized.strip():
        return []
    tokens = [t for t in _words(normalized, variant) if t and _keep(t)]
    if variant == "words+bigrams":
        for run in _CJK_RUN_RE.findall(normalized):
            tokens.extend(f"bg:{run[i:i + 2]}" for i in range(len(run) - 1) if run[i:i + 2] not in STOPWORDS)
    return tokens


def _library_version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return None


class LexicalIndex:
    """BM25 over the tokenized texts of an index's units; row ``i`` is ``texts[i]``."""

    def __init__(self, model: bm25s.BM25, rows: int, variant: str = DEFAULT_VARIANT,
                 directory: Path | None = None) -> None:
        self._model = model
        self.rows = rows
        self.variant = variant
        self._directory = directory  # where it was loaded from (named by errors)

    def __len__(self) -> int:
        return self.rows

    @classmethod
    def build(cls, texts: Sequence[str], *, variant: str = DEFAULT_VARIANT, k1: float = 1.5,
              b: float = 0.75) -> LexicalIndex:
        """Index ``texts`` (row ``i`` ↔ ``texts[i]``) with BM25 (Lucene's variant)."""
        import bm25s

        corpus = [tokenize(text, variant) for text in texts]
        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        if corpus:
            # bm25s infers the corpus type from its first document; an empty one would confuse it.
            model.index(_with_placeholder(corpus), show_progress=False)
        else:
            model.index([[""]], show_progress=False)
            model.scores["num_docs"] = 0
        return cls(model, len(corpus), variant)

    def save(self, directory: Path) -> list[str]:
        """Write the index's files into ``directory`` (created if missing); returns their names.

        The names are relative to ``directory`` and all sit at its top level, so they can go
        straight into the manifest's checksums.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._model.save(
            directory, data_name=DATA, indices_name=INDICES, indptr_name=INDPTR, vocab_name=VOCAB,
            params_name=PARAMS, allow_pickle=False, show_progress=False,
        )
        meta = {
            "format": LEXICAL_FORMAT,
            "variant": self.variant,
            "rows": self.rows,
            "stopwords": len(STOPWORDS),
            "versions": {p: _library_version(p) for p in ("bm25s", "jieba")},
        }
        (directory / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return list(FILES)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Open a saved index; arrays are memory-mapped. Missing or corrupt files raise :class:`IndexLoadError`."""
        import bm25s

        directory = Path(directory)
        for name in FILES:
            if not (directory / name).is_file():
                raise IndexLoadError(f"{directory / name}: lexical index file missing; rebuild the index")
        meta = _read_json(directory / META)
        if not isinstance(meta, dict) or meta.get("format") != LEXICAL_FORMAT or meta.get("variant") not in VARIANTS:
            raise IndexLoadError(f"{directory / META}: unsupported or corrupt lexical index; rebuild the index")
        try:
            model = bm25s.BM25.load(
                directory, data_name=DATA, indices_name=INDICES, indptr_name=INDPTR, vocab_name=VOCAB,
                params_name=PARAMS, mmap=True, allow_pickle=False, show_progress=False,
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError, EOFError) as exc:
            raise IndexLoadError(f"{_culprit(directory)}: corrupt lexical index file ({exc.__class__.__name__}); "
                                 "rebuild the index") from exc
        rows = meta.get("rows")
        # Shapes only: a row index out of range is found when a query's postings are added (checked indexing);
        # reading every row index here cost a cold search hundreds of MB at a million units.
        problem = _check_matrix(model.scores, rows, model.vocab_dict)
        if problem:
            name, why = problem
            raise IndexLoadError(f"{directory / name}: corrupt lexical index ({why}); rebuild the index")
        return cls(model, int(rows), str(meta["variant"]), directory)

    def query_terms(self, query: str) -> list[str]:
        """The query's distinct terms, in order: every indexed word and bigram that occurs in it.

        Reports are segmented with jieba when the index is built; a query is instead matched
        against the index's own vocabulary (each substring of 2–8 Chinese characters that is an
        indexed word, plus its bigrams, plus indexed Latin/digit tokens). That keeps jieba's
        dictionary load off the query path and ranks like jieba's own segmentation of the
        query (docs/method/search.md).
        """
        vocab = self._model.vocab_dict
        text = normalize(query)
        terms: list[str] = []
        for match in _HAN_RUN.finditer(text):
            run = match.group()
            for i in range(len(run)):
                for j in range(i + 2, min(len(run), i + _MAX_WORD) + 1):
                    word = run[i:j]
                    if word in vocab and word not in STOPWORDS:
                        terms.append(word)
                if self.variant == "words+bigrams" and f"bg:{run[i:i + 2]}" in vocab and i + 2 <= len(run):
                    terms.append(f"bg:{run[i:i + 2]}")
        terms.extend(token for token in _LATIN_TOKEN.findall(text) if token in vocab and token not in STOPWORDS)
        return list(dict.fromkeys(terms))

    def has_word(self, word: str) -> bool:
        """Whether ``word`` is one of the index's terms (a word of some unit, not a bigram)."""
        return word in self._model.vocab_dict

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """The inverse document frequency (BM25's) of each indexed term in ``terms``."""
        vocab = self._model.vocab_dict
        indptr = self._model.scores["indptr"]
        weights: dict[str, float] = {}
        for term in terms:
            if term in vocab:
                df = int(indptr[vocab[term] + 1] - indptr[vocab[term]])
                weights[term] = math.log(1.0 + (self.rows - df + 0.5) / (df + 0.5))
        return weights

    def scores_for(self, query: str) -> np.ndarray:
        """BM25 score of every row for ``query`` (float32, 0 where no term matches)."""
        scores = np.zeros(self.rows, dtype=np.float32)
        if self.rows:
            self._add_scores(scores, query)
        return scores

    def scores_for_alternatives(self, groups: Sequence[str]) -> np.ndarray:
        """Each row's summed score over ``groups``, a group scoring its best alternative in the row.

        A group is a space-separated set of alternatives (the Chinese words one English phrase translates
        to), each scored like a query of its own; a phrase with many translations then counts once, not once
        per translation (a structured query). Two scratch arrays serve every alternative: a fresh array per
        alternative was fresh pages to fault in, a few dozen per English query (docs/method/benchmarks.md).
        """
        total = np.zeros(self.rows, dtype=np.float32)
        best = np.zeros(self.rows, dtype=np.float32)
        scratch = np.zeros(self.rows, dtype=np.float32)
        for group in groups:
            best.fill(0.0)
            for alternative in group.split():
                if self._add_scores(scratch, alternative):
                    np.maximum(best, scratch, out=best)
                    scratch.fill(0.0)
            total += best
        return total

    def _add_scores(self, scores: np.ndarray, query: str) -> bool:
        """Add ``query``'s BM25 scores into ``scores``; False (nothing added) when it has no indexed term."""
        vocab = self._model.vocab_dict
        ids = [vocab[t] for t in self.query_terms(query) if t in vocab]
        if not ids:
            return False
        if self._model.nonoccurrence_array is None:  # Lucene's BM25: a sum of the stored scores of the postings
            self._add_postings_of(scores, ids)
        else:  # a BM25 variant that scores every row
            scores += np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)
        return True

    def _add_postings_of(self, scores: np.ndarray, ids: Sequence[int]) -> np.ndarray:
        """Add the stored scores of the terms ``ids``' postings into ``scores``, term by term as bm25s adds
        them (the same sums), but with checked indexing; returns ``scores``."""
        stored = self._model.scores
        try:
            return add_postings(scores, stored["indptr"], stored["indices"], stored["data"],
                                ((i, 1.0, None) for i in ids))
        except IndexError:
            where = (self._directory or Path(".")) / INDICES
            raise IndexLoadError(f"{where}: corrupt lexical index (row index out of range); "
                                 "rebuild the index") from None

    def search(self, query: str | Sequence[str], n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The top ``n`` rows with a score above 0 as ``(scores, rows)``, best first.

        ``query`` is a text, or a list of groups of alternatives (:meth:`scores_for_alternatives`).
        ``allowed`` (a boolean mask over rows) is applied before the top ``n`` are taken.
        Ties keep row order.
        """
        from simkit.store.vectors import top_scored_rows

        scores = self.scores_for(query) if isinstance(query, str) else self.scores_for_alternatives(query)
        return top_scored_rows(scores, n, allowed)

    def matched_terms(self, query: str, text: str) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` in ``text`` of the query's terms, in text order.

        Longer terms are placed first and spans never overlap; matching ignores width and
        case. Single-character terms are highlighted only when the query has no longer term.
        """
        # Bigrams match where a long query word ("综合执法") is split in the text ("综合行政执法").
        terms = {t[3:] if t.startswith("bg:") else t for t in self.query_terms(query)}
        longer = {t for t in terms if len(t) > 1}
        terms = sorted(longer or terms, key=lambda t: (-len(t), t))
        folded, origin = _fold_with_offsets(text)
        taken = [False] * len(folded)
        spans: list[tuple[int, int]] = []
        for term in terms:
            start = folded.find(term)
            while start != -1:
                end = start + len(term)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * len(term)
                    spans.append((origin[start], origin[end - 1] + 1))
                start = folded.find(term, start + 1)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


def _with_placeholder(corpus: list[list[str]]) -> list[list[str]]:
    # bm25s infers "tokens" from the first document; an empty first document would make it guess wrong.
    return [doc if doc else [""] for doc in corpus]


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """``normalize`` applied character by character, with the source index of every output character."""
    pieces: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        folded = normalize(char)
        pieces.append(folded)
        origin.extend([i] * len(folded))
    return "".join(pieces), origin


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{path}: unreadable lexical index file ({exc.__class__.__name__}); rebuild the index") \
            from exc


def _culprit(directory: Path) -> Path:
    """The first file that cannot be parsed, to name in an error (else the directory)."""
    for name in (PARAMS, VOCAB):
        try:
            if not isinstance(json.loads((directory / name).read_text(encoding="utf-8")), dict):
                return directory / name
        except (OSError, ValueError):
            return directory / name
    for name in (DATA, INDICES, INDPTR):
        try:
            np.load(directory / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return directory / name
    return directory


def _check_matrix(scores: dict[str, Any], rows: Any, vocab: Any) -> tuple[str, str] | None:
    """What is inconsistent in a loaded index's shapes, as (file to blame, why); None if nothing."""
    if not isinstance(rows, int) or rows < 0:
        return META, "no row count"
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        return VOCAB, "vocabulary is not a token → column map"
    vocab_size = len(vocab)
    data, indices, indptr = scores.get("data"), scores.get("indices"), scores.get("indptr")
    if not all(isinstance(a, np.ndarray) and a.ndim == 1 for a in (data, indices, indptr)):
        return DATA, "arrays are not one-dimensional"
    if scores.get("num_docs") != rows:
        return PARAMS, f"row count {scores.get('num_docs')} does not match {rows}"
    # bm25s adds the empty token to the vocabulary after building the matrix, without a column.
    if len(indptr) - 1 not in (vocab_size, vocab_size - 1) or (len(indptr) and int(indptr[-1]) != len(data)):
        return INDPTR, "column pointers do not match the vocabulary and scores"
    if len(indices) != len(data):
        return INDICES, "row indices do not match the scores"
    return None
