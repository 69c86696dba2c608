"""Bulk encoding of report units: everything a build stores per unit, from the model.

A unit needs three things from the model: its vector (its outline titles and text as a passage),
its latent terms (:mod:`simkit.store.latent`) and one vector per evidence sentence
(:mod:`simkit.store.sentences`). :func:`encode_units` computes them for a batch of units; the build,
the rebuild and the Ray stage (:mod:`simkit.pipeline.distributed`) all call it, so a unit is
encoded the same way wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from simkit.embedding.embedder import Embedder
from simkit.embedding.sparse_head import pack


@dataclass(frozen=True)
class UnitText:
    """One unit as the encoder sees it.

    ``text`` is what the unit vector embeds (outline titles, then the unit's own text;
    :func:`simkit.reading.segment.embedding_text`), ``content`` the unit's own text, which ends
    ``text``; ``sentences`` are the [start, end) spans of its evidence sentences in ``content``.
    """

    text: str
    content: str
    sentences: tuple[tuple[int, int], ...]


@dataclass
class UnitEncoding:
    """What :func:`encode_units` returns for a list of units, rows in the units' order.

    ``vectors``: float32 ``(n, dim)``, L2-normalized; ``sentence_offsets``: int64 ``(n + 1,)``, the
    sentences of unit ``i`` are rows ``sentence_offsets[i]:sentence_offsets[i + 1]`` of
    ``sentence_vectors`` (float32, L2-normalized); ``latent``: the units' latent terms packed as
    :func:`simkit.embedding.sparse_head.pack` rows, or None when the model has no sparse head.
    """

    vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray
    latent: np.ndarray | None

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def concat(cls, parts: Sequence[UnitEncoding], dimension: int) -> UnitEncoding:
        """The encodings of consecutive batches as one."""
        if not parts:
            return cls(np.zeros((0, dimension), np.float32), np.zeros((0, dimension), np.float32),
                       np.zeros(1, np.int64), None)
        offsets = [np.zeros(1, np.int64)]
        base = 0
        for part in parts:
            offsets.append(part.sentence_offsets[1:] + base)
            base += int(part.sentence_offsets[-1])
        latent = None if parts[0].latent is None else np.concatenate([p.latent for p in parts])  # type: ignore[misc]
        return cls(np.concatenate([p.vectors for p in parts]), np.concatenate([p.sentence_vectors for p in parts]),
                   np.concatenate(offsets), latent)

    def sentences_of(self, row: int) -> np.ndarray:
        """The sentence vectors of unit ``row``."""
        return self.sentence_vectors[int(self.sentence_offsets[row]):int(self.sentence_offsets[row + 1])]


def encode_units(embedder: Embedder, units: Sequence[UnitText], *, latent: bool | None = None,
                 progress: Callable[[int], None] | None = None) -> UnitEncoding:
    """Encode ``units``: their vectors, evidence-sentence vectors and (with ``latent``, by default
    when the model has a sparse head) latent terms. ``progress`` is called with the number of units done.

    Three encoder passes on the bulk runtime, each batched by length: the unit as embedded (outline
    titles, passage prefix), each evidence sentence alone (the model's sentence prompt), and the
    unit's raw text for its latent terms. Fewer passes were measured and lost quality: pooling sentences
    from the unit's pass (late chunking) lost evidence, and latent terms from the unit's pass lost
    region nDCG (docs/method/throughput.md).
    """
    latent = embedder.has_latent_terms if latent is None else latent
    vectors = embedder.embed_passages([u.text for u in units])
    sentence_texts = [u.content[s:e] for u in units for s, e in u.sentences]
    offsets = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum([len(u.sentences) for u in units], out=offsets[1:])
    sentence_vectors = embedder.embed_sentences(sentence_texts)
    packed = pack(embedder.bulk_latent_terms([u.content for u in units])) if latent else None
    if progress is not None:
        progress(len(units))
    return UnitEncoding(vectors, sentence_vectors, offsets, packed)


__all__ = ["UnitEncoding", "UnitText", "encode_units"]
