"""The manifest of an index version (``manifest.json``): how it was built, what it holds, checksums.

:class:`Manifest` is the one reader and writer of the file. It checks the manifest's own checksum
(``manifest.sha256`` beside it, in ``sha256sum`` format), the type of every field and the format
version when reading, and owns the defaults of fields that older versions did not record
(``embed_context``, ``sentence_prompt``, ``latent_terms``, ``embedded_on``), so no other module guesses them.
A version written before manifests had a checksum file is read unverified (its fields are still
checked). The fields are described in docs/index-format.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simkit.errors import IndexLoadError

FORMAT_VERSION = 2
"""The format this simkit writes. 2: a version's sentence vectors may be int8 (``sentence_codes.npy``, from
``simkit.store.sentences.INT8_FROM`` sentences on), which a reader of format 1 would not find and would
search without sentence evidence, silently; so such a reader refuses format 2 ("upgrade simkit")."""
READABLE_FORMATS = (1, 2)  # format 1 (float16 sentence vectors only) is still read
MANIFEST = "manifest.json"
CHECKSUM = "manifest.sha256"  # "<sha256 of manifest.json>  manifest.json\n", as `sha256sum` writes it
EMBED_CONTEXTS = ("section", "none")  # how units were embedded: with their outline titles in front, or alone
_CHECKSUM_LINE = re.compile(rb"([0-9a-f]{64}) [ *]manifest\.json\n?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Defaults of fields a version written before they existed does not have.
DEFAULT_EMBED_CONTEXT = "section"
DEFAULT_SENTENCE_PROMPT = "passage"


class ManifestError(IndexLoadError):
    """A manifest is missing, unreadable, damaged or of an unsupported format (the message names the file)."""


class _Bad(Exception):
    """A field of a manifest that does not fit the schema (``where``: its path, e.g. ``counts.vectors``)."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` records about one index version.

    ``model``: name, id, path (None for a bundled model), fingerprint, dimension, normalized,
    query/passage prefixes, max_tokens. ``index``: the FAISS index type, and for an approximate index
    its factory string, nlist, nprobe and the build-time recall calibration. ``counts``: documents,
    paragraphs, units, boilerplate_units, vectors, sentences. ``files``: ``{name: {"sha256", "bytes"}}``
    for every file of the version. ``versions``: library versions that built it.
    ``latent_terms``: the sparse head that computed the units' latent terms (None: none stored).
    ``embedded_on``: where the units embedded by this build ran when not in the building process,
    ``{"engine": "ray", "address", "workers", "hosts"}`` (None: in the building process, or nothing embedded).
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
    embedded_on: dict[str, Any] | None = None

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
        for optional in ("sentence_prompt", "latent_terms", "embedded_on"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Any, source: Path | str = MANIFEST, *, remedy: str = "") -> Manifest:
        """Check a parsed manifest and fill in the defaults of older versions; raises :class:`ManifestError`.

        Every field is checked against the schema (:func:`_check`): types, non-negative counts,
        a 64-digit hex sha256 and an int size per file, plain file names. ``remedy`` (what to do
        about a damaged manifest) ends the message of a damaged one; the message is one line.
        """
        tail = f"; {remedy}" if remedy else ""
        if isinstance(data, dict) and "format_version" in data and not (
                type(data["format_version"]) is int and data["format_version"] in READABLE_FORMATS):
            found = data["format_version"]
            if type(found) is int and found > FORMAT_VERSION:
                raise ManifestError(f"{source}: index format {found} is not supported "
                                    f"(this simkit reads format {FORMAT_VERSION}); upgrade simkit or rebuild the index")
            raise ManifestError(f"{source}: manifest is damaged (format_version: {str(found)[:20]!r}, "
                                f"expected {FORMAT_VERSION}){tail}")
        try:
            _check(data)
        except _Bad as bad:
            raise ManifestError(f"{source}: manifest is damaged ({bad}){tail}") from None
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
            embedded_on=data.get("embedded_on") or None,
            format_version=int(data["format_version"]),
        )

    @classmethod
    def read(cls, directory: Path, *, remedy: str = "") -> Manifest:
        """The manifest of the version directory ``directory``; raises :class:`ManifestError`.

        When ``manifest.sha256`` is there, the manifest's bytes must match it; without it (a version
        written before manifests had a checksum) the manifest is read unverified.
        """
        path = directory / MANIFEST
        tail = f"; {remedy}" if remedy else ""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ManifestError(f"{path}: missing{tail}") from None
        except OSError as exc:
            raise ManifestError(f"{path}: unreadable ({exc.strerror or exc}){tail}") from None
        expected = read_checksum(directory, remedy=remedy)
        if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
            raise ManifestError(f"{path}: checksum mismatch (it does not match {directory / CHECKSUM}: one of "
                                f"them is damaged or was edited){tail}")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ManifestError(f"{path}: manifest is damaged (not JSON: {type(exc).__name__}){tail}") from None
        return cls.from_dict(data, path, remedy=remedy)

    def write(self, directory: Path) -> None:
        """Write ``manifest.json`` and its checksum ``manifest.sha256`` into ``directory`` (a version
        being staged: published atomically later)."""
        raw = (json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        (directory / MANIFEST).write_bytes(raw)
        (directory / CHECKSUM).write_bytes(f"{hashlib.sha256(raw).hexdigest()}  {MANIFEST}\n".encode("ascii"))


def read_checksum(directory: Path, *, remedy: str = "") -> str | None:
    """The sha256 that ``manifest.sha256`` in ``directory`` records for the manifest, or None without the file."""
    path = directory / CHECKSUM
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ManifestError(f"{path}: unreadable ({exc.strerror or exc}){'; ' + remedy if remedy else ''}") from None
    found = _CHECKSUM_LINE.fullmatch(raw)
    if found is None:
        raise ManifestError(f"{path}: damaged (expected one line: the manifest's sha256, two spaces, {MANIFEST})"
                            f"{'; ' + remedy if remedy else ''}")
    return found.group(1).decode("ascii")


# --------------------------------------------------------------------------- the schema

_MODEL = {"name": str, "id": str, "path": (str, type(None)), "fingerprint": str, "dimension": "positive",
          "normalized": bool, "query_prefix": str, "passage_prefix": str, "max_tokens": "positive"}
_INDEX = {"type": str, "metric": str, "ntotal": "count", "dimension": "positive",
          # An approximate index (simkit.store.vectors.make_vector_index); absent for an exact one.
          "factory": str, "nlist": "positive", "nprobe": "positive", "calibration": dict}
_CALIBRATION = {"queries": "count", "k": "count", "target": (int, float), "recall": (int, float),
                "train_sample": "count", "recall_by_nprobe": dict}
_REQUIRED_COUNTS = ("documents", "paragraphs", "units", "vectors")
_LATENT = {"source": str, "version": (str, type(None)), "head_sha256": "sha256", "dim": "positive",
           "top_k": "positive"}
_EMBEDDED_ON = {"engine": str, "address": str, "workers": "positive"}  # "hosts": a list of str, optional


def _check(data: Any) -> None:
    """Raise :class:`_Bad` for the first field of a parsed manifest that does not fit its schema.

    Fields of later simkits that this one does not know are allowed (their types unchecked); the
    ones it knows must have their type, and counts that must agree by construction must agree.
    """
    if not isinstance(data, dict):
        raise _Bad("manifest", f"a JSON object expected, found {_kind(data)}")
    _field(data, "format_version", "", "positive")
    if "created_at" in data:
        _field(data, "created_at", "", str)
    model = _object(data, "model", "")
    for key, kind in _MODEL.items():
        _field(model, key, "model.", kind)
    index = _object(data, "index", "", optional=True) or {}
    for key, kind in _INDEX.items():
        if key in index:
            _field(index, key, "index.", kind)
    calibration = index.get("calibration") or {}
    for key, kind in _CALIBRATION.items():
        if key in calibration:
            _field(calibration, key, "index.calibration.", kind)
    if index.get("nprobe", 1) > index.get("nlist", index.get("nprobe", 1)):
        raise _Bad("index.nprobe", f"{index['nprobe']}, more than index.nlist ({index['nlist']})")
    counts = _object(data, "counts", "")
    for key in _REQUIRED_COUNTS:
        _field(counts, key, "counts.", "count")
    for key in counts:
        _field(counts, key, "counts.", "count")
    files = _object(data, "files", "")
    if not files:
        raise _Bad("files", "empty")
    for name, entry in files.items():
        where = f"files[{name[:60]!r}]"
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise _Bad(where, "not a plain file name")
        if not isinstance(entry, dict):
            raise _Bad(where, f"an object expected, found {_kind(entry)}")
        _field(entry, "sha256", where + ".", "sha256")
        _field(entry, "bytes", where + ".", "count")
    versions = _object(data, "versions", "", optional=True) or {}
    for key in versions:
        _field(versions, key, "versions.", (str, type(None)))
    if "embed_context" in data and data["embed_context"] not in EMBED_CONTEXTS:
        raise _Bad("embed_context", f"one of {', '.join(EMBED_CONTEXTS)} expected, found "
                                    f"{str(data['embed_context'])[:40]!r}")
    if data.get("sentence_prompt") is not None:
        _field(data, "sentence_prompt", "", str)
    latent = _object(data, "latent_terms", "", optional=True)
    if latent:
        for key, kind in _LATENT.items():
            _field(latent, key, "latent_terms.", kind)
    embedded_on = _object(data, "embedded_on", "", optional=True)
    if embedded_on:
        for key, kind in _EMBEDDED_ON.items():
            _field(embedded_on, key, "embedded_on.", kind)
        if "hosts" in embedded_on:
            _field(embedded_on, "hosts", "embedded_on.", list)
            if not all(isinstance(host, str) for host in embedded_on["hosts"]):
                raise _Bad("embedded_on.hosts", "a list of strings expected")
    # What holds by construction: one vector per unit, the FAISS description matches.
    if counts["vectors"] != counts["units"]:
        raise _Bad("counts.vectors", f"{counts['vectors']} vectors for {counts['units']} units")
    if index.get("ntotal", counts["vectors"]) != counts["vectors"]:
        raise _Bad("index.ntotal", f"{index['ntotal']}, but counts.vectors is {counts['vectors']}")
    if index.get("dimension", model["dimension"]) != model["dimension"]:
        raise _Bad("index.dimension", f"{index['dimension']}, but model.dimension is {model['dimension']}")
    if counts.get("boilerplate_units", 0) > counts["units"]:
        raise _Bad("counts.boilerplate_units", f"{counts['boilerplate_units']} of {counts['units']} units")


def _object(data: dict[str, Any], key: str, prefix: str, *, optional: bool = False) -> dict[str, Any] | None:
    """``data[key]``, which must be a JSON object with string keys (None or absent only if ``optional``)."""
    value = data.get(key)
    if value is None and optional:
        return None
    if key not in data:
        raise _Bad(prefix + key, "missing")
    if not isinstance(value, dict):
        raise _Bad(prefix + key, f"an object expected, found {_kind(value)}")
    return value


def _field(data: dict[str, Any], key: str, prefix: str, kind: Any) -> None:
    """Check ``data[key]`` against ``kind``: a type (or tuple of types), ``"count"`` (an int ≥ 0),
    ``"positive"`` (an int > 0) or ``"sha256"`` (64 lowercase hex digits)."""
    where = prefix + (key if key.isidentifier() else repr(key[:60]))
    if key not in data:
        raise _Bad(where, "missing")
    value = data[key]
    if kind in ("count", "positive"):
        if type(value) is not int:
            raise _Bad(where, f"an integer expected, found {_kind(value)}")
        if value < (1 if kind == "positive" else 0):
            raise _Bad(where, f"{'a positive' if kind == 'positive' else 'a non-negative'} integer expected, "
                              f"found {value}")
    elif kind == "sha256":
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            raise _Bad(where, "64 hexadecimal digits expected")
    elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _Bad(where, f"{_type_names(kind)} expected, found {_kind(value)}")


def _kind(value: Any) -> str:
    """The JSON type of ``value``, for messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _type_names(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_kind(k()) if k is not type(None) else "null" for k in kinds)
