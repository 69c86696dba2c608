"""Checks a staged version must pass before it is published."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simkit.embedding.embedder import Embedder
from simkit.errors import ValidationError
from simkit.search.engine import Search
from simkit.search.settings import SearchSettings
from simkit.store.layout import STORE, VECTORS, load_version, verify_files
from simkit.store.parts import IndexParts
from simkit.store.vectors import stored_form


def validate_version(root: Path, name: str, counts: dict[str, int], vectors: np.ndarray, *,
                     embedder: Embedder | None = None) -> None:
    """Check a staged version before it is published; raises :class:`ValidationError`.

    The manifest's counts must equal what was built, the FAISS index's size and the
    store's rows; every file must match its checksum; stored vectors must be the ones
    computed; and a smoke query through the normal search path must find a unit by its text.
    ``embedder`` (the one that built the version) embeds the smoke query instead of a
    second copy of the model.
    """
    where = root / "versions" / name
    version = load_version(root, name)
    verify_files(version, advise=False)
    manifest_counts = version.manifest.counts
    for key in ("documents", "paragraphs", "units", "vectors"):
        if manifest_counts.get(key) != counts[key]:
            raise ValidationError(f"{where}: manifest says {manifest_counts.get(key)} {key}, built {counts[key]}")
    built = version.manifest.model
    if embedder is not None and (embedder.model.profile.model_id, embedder.model.fingerprint) != (
            built.get("id"), built.get("fingerprint")):
        embedder = None  # not the version's model: the search loads the right one
    parts = IndexParts.open(root, version=name, verify=False)
    try:
        search = Search(parts, embedder=embedder)
        stored = parts.store.counts()
        ntotal = parts.total
        for key in ("documents", "paragraphs", "units"):
            if stored[key] != counts[key]:
                raise ValidationError(f"{where / STORE}: holds {stored[key]} {key}, the manifest says {counts[key]}")
        if ntotal != counts["units"]:
            raise ValidationError(f"{where / VECTORS}: holds {ntotal} vectors for {counts['units']} units")
        if ntotal == 0:
            raise ValidationError(f"{where}: the new version has no indexed unit")
        rows = np.unique(np.linspace(0, ntotal - 1, num=min(ntotal, 16)).astype(np.int64))
        # An approximate index stores codes: its rows read back as the computed vectors encoded and decoded.
        if not np.allclose(parts.vectors_at(rows), stored_form(parts.vectors, vectors[rows]), atol=1e-6):
            raise ValidationError(f"{where / VECTORS}: stored vectors differ from the computed ones")
        probe = parts.store.units_at([int(rows[len(rows) // 2])])
        unit = next(iter(probe.values()), None)
        if unit is None:
            raise ValidationError(f"{where / STORE}: no unit stored at vector row {int(rows[len(rows) // 2])}")
        # Whatever its role: a problem-section unit is found, only shown after its region's other units.
        result = search.search(unit.text, k=5, hits=3, include_boilerplate=True,
                               settings=SearchSettings(problem_units_last=False))
        if not any(hit.text == unit.text for region in result.regions for hit in region.hits):
            raise ValidationError(f"{where}: smoke query did not find unit {unit.id} by its own text")
    finally:
        parts.close()
