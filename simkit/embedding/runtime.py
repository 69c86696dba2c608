"""Bulk runtimes: what turns a batch of token ids into the encoder's final token states at build time.

A runtime returns the final-layer token states of a batch; the embedder mean-pools them into vectors
(as the sentence-transformers model does) and feeds them to the sparse head for latent terms
(:class:`simkit.embedding.sparse_head.SparseHead`). Three runtimes serve the same weights:

- ``onnx-fp32`` (default): the model exported to ONNX, float32, on ONNX Runtime; its vectors are
  sentence-transformers' (cosine ≥ 0.9999, tests/test_runtime.py), from a faster runtime.
- ``onnx-int8``: the same export with its matrix multiplications quantized to int8 (dynamic, per
  output channel). On report paragraphs its vectors keep a cosine of at least 0.99 to float32, and it
  is faster, but it moved evidence figures on the dev set (docs/method/throughput.md), so it is a choice,
  not the default.
- ``torch``: the model in PyTorch (``SIMKIT_DEVICE=cuda`` runs it on a GPU with a CUDA build of torch).

The ONNX files are made from the local model directory (nothing is downloaded) the first time a
runtime is used, or by ``simkit models install``, into ``<models dir>/runtimes/<model>-<fingerprint>-r<N>/``,
written atomically. :data:`RECIPE_VERSION` is part of that name and of :func:`runtime_id`: a change
to the export or quantization recipe gives new files and new cache keys, so vectors of different
runtimes never mix in an embedding cache or a rebuild.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from simkit.config import configure_threads, thread_count, user_cache_dir
from simkit.embedding.models import ResolvedModel, models_dir
from simkit.errors import ModelError
from simkit.fileio import put_directory_in_place

log = logging.getLogger("simkit.embedding.runtime")

RUNTIMES = ("onnx-fp32", "onnx-int8", "torch")
DEFAULT_RUNTIME = "onnx-fp32"
RUNTIME_ENV = "SIMKIT_RUNTIME"
LEGACY_RUNTIME = "sentence-transformers"  # what embedded versions that record no runtime (simkit before 0.x)
RECIPE_VERSION = 1  # export + quantization recipe; part of the runtime id
OPSET = 17
_prepare_lock = threading.Lock()


def runtime_name(requested: str | None = None) -> str:
    """The runtime to use: ``requested``, ``$SIMKIT_RUNTIME``, ``torch`` when ``$SIMKIT_DEVICE`` names a
    GPU, else :data:`DEFAULT_RUNTIME`."""
    name = requested or os.environ.get(RUNTIME_ENV) or (
        "torch" if os.environ.get("SIMKIT_DEVICE", "cpu").startswith("cuda") else DEFAULT_RUNTIME)
    if name not in RUNTIMES:
        raise ModelError(f"unknown runtime {name!r} (from {RUNTIME_ENV} or --runtime); "
                         f"use one of {', '.join(RUNTIMES)}")
    return name


def runtime_id(name: str) -> str:
    """The identity recorded in the manifest and in embedding-cache keys, e.g. ``onnx-int8-r1``."""
    return name if name == "torch" else f"{name}-r{RECIPE_VERSION}"


def runtime_root() -> Path:
    """Where runtime files (ONNX exports) are written: ``<models dir>/runtimes``, or, when the models folder
    cannot be written (a shared, read-only install), ``runtimes`` in simkit's per-user cache."""
    shared = models_dir() / "runtimes"
    writable = os.access(shared, os.W_OK | os.X_OK) if shared.is_dir() else os.access(models_dir(), os.W_OK | os.X_OK)
    return shared if writable else user_cache_dir() / "runtimes"


def runtime_file(name: str) -> Path:
    """The runtime file ``name`` (a path under ``runtimes/``): where it already is, in the models folder or
    the per-user cache, else where it is to be written (:func:`runtime_root`)."""
    for root in (models_dir() / "runtimes", user_cache_dir() / "runtimes"):
        if (root / name).is_file():
            return root / name
    return runtime_root() / name


def runtime_dir(model: ResolvedModel) -> Path:
    """Where the ONNX files of ``model`` are (or are to be written)."""
    return runtime_file(f"{model.profile.name}-{model.fingerprint}-r{RECIPE_VERSION}/model.onnx").parent


def onnx_unsupported(model: ResolvedModel) -> str | None:
    """Why ``model`` cannot run on ONNX Runtime (None if it can): it needs a ``tokenizer.json`` and mean pooling."""
    if not (model.path / "tokenizer.json").is_file():
        return "no tokenizer.json"
    pooling = model.path / "1_Pooling" / "config.json"
    if pooling.is_file():
        import json

        config = json.loads(pooling.read_text(encoding="utf-8"))
        if not config.get("pooling_mode_mean_tokens") or any(
                config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                        "pooling_mode_mean_sqrt_len_tokens")):
            return "its pooling is not a plain mean"
    return None


def prepare(model: ResolvedModel, name: str) -> Path | None:
    """Make sure the files of runtime ``name`` exist for ``model`` (export and quantize once); returns
    the ONNX model file, or None for ``torch``."""
    if name == "torch":
        return None
    directory = runtime_dir(model)
    target = directory / ("model-int8.onnx" if name == "onnx-int8" else "model.onnx")
    if target.is_file():
        return target
    with _prepare_lock:
        if not target.is_file():
            _export(model, directory)
    return target


def _export(model: ResolvedModel, directory: Path) -> None:
    """Export ``model`` to ONNX (token states out) and quantize it, into ``directory`` atomically."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    log.info("exporting %s to ONNX into %s (one time)", model.path, directory)
    try:
        _export_onnx(model.path, tmp / "model.onnx")
        quantize_matmuls(tmp / "model.onnx", tmp / "model-int8.onnx")
        put_directory_in_place(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _export_onnx(model_path: Path, target: Path) -> None:
    import warnings

    import torch
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model_path}: cannot load model for ONNX export ({exc}); check the model directory") from exc

    class TokenStates(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(TokenStates(encoder), (sample, sample), str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["token_states"],
                          opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_states": axes})


def quantize_matmuls(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the matrix multiplications, per output channel (the recipe of
    :data:`RECIPE_VERSION`; the embedding lookup stays float32)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"],
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def onnx_session(path: Path, *, spinning: bool = False) -> Any:
    """An ONNX Runtime CPU session for ``path`` using simkit's thread budget.

    ``spinning`` False (the default): its threads sleep as soon as a run ends instead of spinning on the
    cores for the next one, which would slow whatever the process does between runs: a search between two
    queries, and in a build the other session (the encoder's threads spinning while the sparse head ran, and
    the head's while the encoder ran, made the latent terms' pass ~40 % slower on 2 cores; a pass on one
    session alone ran as fast either way; docs/method/throughput.md).
    """
    configure_threads()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class TokenEncoder:
    """Final-layer token states for padded batches of token ids, on one runtime."""

    def __init__(self, model: ResolvedModel, name: str) -> None:
        self.name = name
        self.id = runtime_id(name)
        self._session: Any = None
        self._torch: Any = None
        self._device = "cpu"
        if name == "torch":
            configure_threads()
            import torch
            from transformers import AutoModel
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # the library never prints
            torch.set_num_threads(thread_count())
            self._device = os.environ.get("SIMKIT_DEVICE", "cpu")
            try:
                self._torch = AutoModel.from_pretrained(str(model.path), local_files_only=True).eval().to(self._device)
            except (OSError, ValueError) as exc:
                raise ModelError(f"{model.path}: cannot load model ({exc}); check the model directory") from exc
        else:
            reason = onnx_unsupported(model)
            if reason:
                raise ModelError(f"{model.path}: the {name} runtime cannot run this model ({reason}); "
                                 f"use --runtime torch (or {RUNTIME_ENV}=torch)")
            path = prepare(model, name)
            assert path is not None
            self._session = onnx_session(path)

    def states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token states, float32 ``(batch, tokens, hidden)``, of int64 ``ids`` padded on the right (``mask`` 1/0)."""
        if self._session is not None:
            return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        import torch

        with torch.inference_mode():
            out = self._torch(input_ids=torch.from_numpy(ids).to(self._device),
                              attention_mask=torch.from_numpy(mask).to(self._device)).last_hidden_state
        return out.float().cpu().numpy()
