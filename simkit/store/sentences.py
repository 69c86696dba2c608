"""Sentence vectors: which sentence of a unit answers the query, and which unit of a region to show first.

A unit's own vector carries its outline titles and every sentence in it, which is
what ranks *regions* best; but the unit a person wants to see first is the one with
a sentence that says what was asked. Each unit is therefore also cut into sentences
(at 。；！？ and line ends, short pieces joined to their neighbour) and every sentence
is embedded on its own, without titles, with e5's *query* prefix (other models: their
passage prefix; see :attr:`simkit.embedding.models.ModelProfile.sentence_prompt`): a query and the
sentence answering it say the same thing, a symmetric comparison. Within a region,
units are ordered by a mix of their own cosine and their best sentence's (fused with
the lexical rank among the region's units in hybrid mode), and that sentence is returned as
the hit's evidence span.

What the sentence vectors, the query prefix and ranks counted among the region's own units
each changed ("the region's top unit holds the evidence", region ranking) is measured in
docs/method/evidence.md. The manifest records the prompt
(``"sentence_prompt": "query"``; a version without it embedded its sentences as
passages), and a rebuild re-embeds sentences whose prompt is not the model's.

The same vectors give query by example its query: the mean of a stored paragraph's sentence
vectors (:meth:`SentenceIndex.mean`, used by :meth:`simkit.search.engine.Search.similar`)
stands for the paragraph embedded as a query, without loading the model.

Files (all ``.npy``, loaded memory-mapped, no pickle), in the index version directory:

- ``sentences.npy``: float16 ``(n_sentences, dim)``, L2-normalised sentence vectors;
- ``sentence_offsets.npy``: int64 ``(n_units + 1,)``; the sentences of unit row ``r``
  are ``offsets[r]:offsets[r + 1]``;
- ``sentence_spans.npy``: int32 ``(n_sentences, 2)``, each sentence's [start, end)
  in its unit's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simkit.errors import IndexLoadError
from simkit.reading.boilerplate import sentence_spans

SENTENCE_VECTORS = "sentences.npy"
SENTENCE_OFFSETS = "sentence_offsets.npy"
SENTENCE_SPANS = "sentence_spans.npy"
FILES = (SENTENCE_VECTORS, SENTENCE_OFFSETS, SENTENCE_SPANS)
MIN_SENTENCE_CHARS = 8


def split_sentences(text: str, min_chars: int = MIN_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of ``text``; pieces shorter than ``min_chars`` join a neighbour.

    Sentences are cut as the boilerplate statistics cut them; spans are trimmed of surrounding
    whitespace and cover every non-space character.
    """
    spans: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if spans and (e - s < min_chars or spans[-1][1] - spans[-1][0] < min_chars):
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans or [(0, len(text))]


@dataclass(frozen=True)
class SentencePlan:
    """The sentences of a list of units, in unit order: what to embed and how it maps back."""

    texts: list[str]
    offsets: np.ndarray
    spans: np.ndarray

    @classmethod
    def of(cls, unit_texts: Sequence[str]) -> SentencePlan:
        texts: list[str] = []
        offsets = np.zeros(len(unit_texts) + 1, dtype=np.int64)
        spans: list[tuple[int, int]] = []
        for row, text in enumerate(unit_texts):
            for s, e in split_sentences(text):
                texts.append(text[s:e])
                spans.append((s, e))
            offsets[row + 1] = len(texts)
        return cls(texts, offsets, np.asarray(spans, dtype=np.int32).reshape(-1, 2))

    def save(self, directory: Path, vectors: np.ndarray) -> list[str]:
        """Write the three files; returns their names (for the manifest)."""
        if len(vectors) != len(self.texts):
            raise ValueError(f"{len(vectors)} sentence vectors for {len(self.texts)} sentences")
        np.save(directory / SENTENCE_VECTORS, np.ascontiguousarray(vectors, dtype=np.float16))
        np.save(directory / SENTENCE_OFFSETS, self.offsets)
        np.save(directory / SENTENCE_SPANS, self.spans)
        return list(FILES)


@dataclass(frozen=True)
class BestSentence:
    """The sentence of a unit closest to the query."""

    row: int
    similarity: float
    span: tuple[int, int]


class SentenceIndex:
    """Memory-mapped sentence vectors of an index version."""

    def __init__(self, directory: Path, units: int) -> None:
        try:
            self.vectors = np.load(directory / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
            self.offsets = np.load(directory / SENTENCE_OFFSETS, allow_pickle=False)
            self.spans = np.load(directory / SENTENCE_SPANS, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexLoadError(f"{directory}: unreadable sentence vectors ({exc}); rebuild the index") from exc
        if len(self.offsets) != units + 1 or not int(self.offsets[-1]) == len(self.vectors) == len(self.spans):
            raise IndexLoadError(f"{directory / SENTENCE_OFFSETS}: does not match the index's {units} units; "
                                 "rebuild the index")

    @staticmethod
    def present(directory: Path) -> bool:
        return all((directory / name).is_file() for name in FILES)

    def mean(self, rows: Sequence[int]) -> np.ndarray | None:
        """The normalised mean of the sentence vectors of the units at ``rows`` (None if they have none)."""
        pieces = [np.asarray(self.vectors[int(self.offsets[r]):int(self.offsets[r + 1])], dtype=np.float32)
                  for r in rows]
        if not sum(len(piece) for piece in pieces):
            return None
        mean = np.concatenate(pieces).mean(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)

    def best(self, query: np.ndarray, rows: Sequence[int]) -> list[BestSentence]:
        """For each unit row, its sentence most similar to ``query`` (a normalised vector)."""
        found: list[BestSentence] = []
        q = np.asarray(query, dtype=np.float32).ravel()
        for row in rows:
            lo, hi = int(self.offsets[row]), int(self.offsets[row + 1])
            if lo == hi:
                found.append(BestSentence(int(row), float("-inf"), (0, 0)))
                continue
            sims = np.asarray(self.vectors[lo:hi], dtype=np.float32) @ q
            at = int(np.argmax(sims))
            s, e = (int(x) for x in self.spans[lo + at])
            found.append(BestSentence(int(row), float(sims[at]), (s, e)))
        return found
