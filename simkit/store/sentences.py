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

- ``sentences.npy``: float16 ``(n_sentences, dim)``, L2-normalised sentence vectors, below
  :data:`INT8_FROM` sentences; from there on instead
- ``sentence_codes.npy``: int8 ``(n_sentences, dim)`` and ``sentence_scales.npy``: float32
  ``(n_sentences,)``: sentence ``i``'s L2-normalised vector is ``codes[i] * scales[i]`` (symmetric
  per-row quantisation, ``scale = max |x| / 127``; 1 byte a dimension, half of float16: what keeps
  the sentence vectors of a million units near 1 GB; cosine to the float vector ≥ 0.9999, measured
  in docs/method/benchmarks.md). A reader tells the two apart by the files present;
- ``sentence_offsets.npy``: int64 ``(n_units + 1,)``; the sentences of unit row ``r``
  are ``offsets[r]:offsets[r + 1]``;
- ``sentence_spans.npy``: int32 ``(n_sentences, 2)``, each sentence's [start, end)
  in its unit's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simkit.errors import IndexLoadError
from simkit.reading.boilerplate import sentence_spans

SENTENCE_VECTORS = "sentences.npy"  # float16: versions written before sentence_codes.npy (still read)
SENTENCE_CODES = "sentence_codes.npy"
SENTENCE_SCALES = "sentence_scales.npy"
SENTENCE_OFFSETS = "sentence_offsets.npy"
SENTENCE_SPANS = "sentence_spans.npy"
FILES = (SENTENCE_VECTORS, SENTENCE_OFFSETS, SENTENCE_SPANS)  # float16 vectors
INT8_FILES = (SENTENCE_CODES, SENTENCE_SCALES, SENTENCE_OFFSETS, SENTENCE_SPANS)  # int8 codes and scales
INT8_FROM = 100_000
"""Sentence vectors are stored as int8 from this many sentences on (about 37,000 units), as float16 below:
quantisation moves cosines by ~3e-5, enough to swap near-tied hits within a region, so an index of
the example's size keeps exactly its float16 results (docs/method/benchmarks.md)."""
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


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes and float32 per-row scales of ``vectors``: ``codes[i] * scales[i]`` approximates row ``i``."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    peak = np.abs(vectors).max(axis=1) if vectors.size else np.zeros(len(vectors), dtype=np.float32)
    scales = (peak / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / safe[:, None]), -127, 127).astype(np.int8)
    return codes, scales


class QuantizedVectors:
    """int8 codes with per-row scales, read like a float32 array: indexing a row or rows dequantises them."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        self.codes = codes
        self.scales = scales

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    def __getitem__(self, rows: Any) -> np.ndarray:
        codes = np.asarray(self.codes[rows], dtype=np.float32)
        scales = np.asarray(self.scales[rows], dtype=np.float32)
        return codes * (scales[..., None] if codes.ndim == 2 else scales)


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

    def save(self, directory: Path, vectors: np.ndarray, *, int8_from: int = INT8_FROM) -> list[str]:
        """Write the files; returns their names (for the manifest).

        From ``int8_from`` sentences on the vectors are written as int8 codes and scales (:func:`quantize`),
        below as float16.
        """
        if len(vectors) != len(self.texts):
            raise ValueError(f"{len(vectors)} sentence vectors for {len(self.texts)} sentences")
        if len(vectors) < int8_from:
            np.save(directory / SENTENCE_VECTORS, np.ascontiguousarray(vectors, dtype=np.float16))
            np.save(directory / SENTENCE_OFFSETS, self.offsets)
            np.save(directory / SENTENCE_SPANS, self.spans)
            return list(FILES)
        if len(vectors):
            codes = np.lib.format.open_memmap(directory / SENTENCE_CODES, mode="w+", dtype=np.int8,
                                              shape=(len(vectors), int(np.shape(vectors)[1])))
            scales = np.empty(len(vectors), dtype=np.float32)
            for lo in range(0, len(vectors), 65_536):  # in blocks: no float32 copy of all the vectors at once
                codes[lo:lo + 65_536], scales[lo:lo + 65_536] = quantize(vectors[lo:lo + 65_536])
            codes.flush()
            del codes
        else:
            scales = np.zeros(0, dtype=np.float32)
            np.save(directory / SENTENCE_CODES, np.zeros((0, int(np.shape(vectors)[-1]) if np.ndim(vectors) == 2
                                                            else 0), dtype=np.int8))
        np.save(directory / SENTENCE_SCALES, scales)
        np.save(directory / SENTENCE_OFFSETS, self.offsets)
        np.save(directory / SENTENCE_SPANS, self.spans)
        return list(INT8_FILES)


@dataclass(frozen=True)
class BestSentence:
    """The sentence of a unit closest to the query."""

    row: int
    similarity: float
    span: tuple[int, int]


class SentenceIndex:
    """Memory-mapped sentence vectors of an index version (int8 codes and scales, or float16 in older versions).

    ``vectors`` reads like an array of float32 rows (``vectors[lo:hi]``); only the rows asked for are read.
    """

    def __init__(self, directory: Path, units: int) -> None:
        try:
            if (directory / SENTENCE_CODES).is_file():
                self.vectors: QuantizedVectors | np.ndarray = QuantizedVectors(
                    np.load(directory / SENTENCE_CODES, mmap_mode="r", allow_pickle=False),
                    np.load(directory / SENTENCE_SCALES, mmap_mode="r", allow_pickle=False))
                if len(self.vectors.scales) != len(self.vectors.codes):
                    raise ValueError(f"{SENTENCE_SCALES} has {len(self.vectors.scales)} rows for "
                                     f"{len(self.vectors.codes)} codes")
            else:
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
        return any(all((directory / name).is_file() for name in files) for files in (INT8_FILES, FILES))

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
