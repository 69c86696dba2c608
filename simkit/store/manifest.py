"""The manifest of an index version (``manifest.json``): how it was built, what it holds, checksums.

:class:`Manifest` is the one reader and writer of the file. It checks the shape and the format
version when reading, and owns the defaults of fields that older versions did not record
(``embed_context``, ``sentence_prompt``, ``latent_terms``), so no other module guesses them.
The fields are described in docs/index-format.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simkit.errors import IndexLoadError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Defaults of fields a version written before they existed does not have.
DEFAULT_EMBED_CONTEXT = "section"
DEFAULT_SENTENCE_PROMPT = "passage"


class ManifestError(IndexLoadError):
    """A manifest is missing, unreadable, incomplete or of an unsupported format (the message names the file)."""


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` records about one index version.

    ``model``: name, id, path (None for a bundled model), fingerprint, dimension, normalized,
    query/passage prefixes, max_tokens. ``index``: the FAISS index type. ``counts``: documents,
    paragraphs, units, boilerplate_units, vectors, sentences. ``files``: ``{name: {"sha256", "bytes"}}``
    for every file of the version. ``versions``: library versions that built it.
    ``latent_terms``: the sparse head that computed the units' latent terms (None: none stored).
    """

    format_version: int = FORMAT_VERSION
    created_at: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    embed_context: str = DEFAULT_EMBED_CONTEXT
    sentence_prompt: str | None = None  # how evidence sentences were embedded; None: no sentence vectors recorded
    latent_terms: dict[str, Any] | None = None

    @property
    def sentences_embedded_as(self) -> str:
        """The prompt the evidence sentences were embedded with (``passage`` for versions that did not say)."""
        return self.sentence_prompt or DEFAULT_SENTENCE_PROMPT

    @property
    def vectors(self) -> int:
        """The number of vectors (indexed units) the version holds."""
        return int(self.counts.get("vectors") or 0)

    @property
    def model_key(self) -> dict[str, Any]:
        """What identifies the version's embedding space: model id, weights fingerprint and dimension."""
        return {"id": self.model.get("id"), "fingerprint": self.model.get("fingerprint"),
                "dimension": int(self.model["dimension"])}

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to ``manifest.json`` (optional fields only when set)."""
        data = asdict(self)
        for optional in ("sentence_prompt", "latent_terms"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Any, source: Path | str = MANIFEST, *, remedy: str = "") -> Manifest:
        """Check a parsed manifest and fill in the defaults of older versions; raises :class:`ManifestError`.

        ``remedy`` (what to do about a damaged manifest) ends the message of a damaged one.
        """
        if (not isinstance(data, dict) or not isinstance(data.get("model"), dict)
                or not isinstance(data.get("files"), dict) or not isinstance(data.get("counts"), dict)
                or not all(isinstance(e, dict) and {"sha256", "bytes"} <= set(e) for e in data["files"].values())):
            raise ManifestError(f"{source}: manifest is incomplete or damaged{'; ' + remedy if remedy else ''}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ManifestError(f"{source}: index format {data.get('format_version')} is not supported "
                                f"(this simkit reads format {FORMAT_VERSION}); rebuild the index")
        return cls(
            created_at=str(data.get("created_at", "")),
            model=data["model"],
            counts=data["counts"],
            files=data["files"],
            index=data.get("index") or {},
            versions=data.get("versions") or {},
            embed_context=data.get("embed_context") or DEFAULT_EMBED_CONTEXT,
            sentence_prompt=data.get("sentence_prompt") or None,
            latent_terms=data.get("latent_terms") or None,
            format_version=int(data["format_version"]),
        )

    @classmethod
    def read(cls, directory: Path, *, remedy: str = "") -> Manifest:
        """The manifest of the version directory ``directory``; raises :class:`ManifestError`."""
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ManifestError(f"{path}: missing or unreadable manifest{'; ' + remedy if remedy else ''}") from exc
        return cls.from_dict(data, path, remedy=remedy)

    def write(self, directory: Path) -> None:
        """Write ``manifest.json`` into ``directory`` (a version being staged: published atomically later)."""
        (directory / MANIFEST).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
