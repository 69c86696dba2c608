"""simkit: which regions did something similar? Semantic search over Chinese rule-of-law reports.

Public API::

    import simkit
    simkit.build_index(["examples/reports"], "indexes/demo")
    index = simkit.open_index("indexes/demo")
    result = index.search("在乡镇推行综合执法改革", k=5, filters=simkit.Filters(provinces=["福建省"]))
    best = [(r.region, r.calibrated, r.hits[0].text) for r in result.regions]

Importing simkit is cheap: heavy libraries (torch, sentence-transformers, FAISS)
load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BuildResult",
    "ClusterSet",
    "Embedder",
    "Filters",
    "Hit",
    "IndexInfo",
    "Initiative",
    "InitiativeUnit",
    "MissingInitiative",
    "ParagraphRecord",
    "RebuildResult",
    "RegionMatrix",
    "Recommendation",
    "RegionResult",
    "SearchResult",
    "SearchSettings",
    "SimkitError",
    "SimkitIndex",
    "VersionInfo",
    "__version__",
    "build_index",
    "list_versions",
    "open_index",
    "parse_report",
    "rebuild_index",
    "rollback",
]

_LAZY = {
    "build_index": "simkit.pipeline.build",
    "BuildResult": "simkit.pipeline.build",
    "rebuild_index": "simkit.pipeline.rebuild",
    "RebuildResult": "simkit.pipeline.rebuild",
    "list_versions": "simkit.pipeline.versions",
    "rollback": "simkit.pipeline.versions",
    "VersionInfo": "simkit.pipeline.versions",
    "open_index": "simkit.api",
    "SimkitIndex": "simkit.api",
    "Filters": "simkit.search.filters",
    "SearchSettings": "simkit.search.settings",
    "Embedder": "simkit.embedding.embedder",
    "parse_report": "simkit.reading.parse",
    "SimkitError": "simkit.errors",
    **dict.fromkeys(["SearchResult", "RegionResult", "Hit", "ParagraphRecord", "IndexInfo", "ClusterSet", "Initiative",
                     "InitiativeUnit", "MissingInitiative", "Recommendation", "RegionMatrix"], "simkit.results"),
}

if TYPE_CHECKING:
    from simkit.api import SimkitIndex, open_index
    from simkit.embedding.embedder import Embedder
    from simkit.errors import SimkitError
    from simkit.pipeline.build import BuildResult, build_index
    from simkit.pipeline.rebuild import RebuildResult, rebuild_index
    from simkit.pipeline.versions import VersionInfo, list_versions, rollback
    from simkit.reading.parse import parse_report
    from simkit.results import (
        ClusterSet,
        Hit,
        IndexInfo,
        Initiative,
        InitiativeUnit,
        MissingInitiative,
        ParagraphRecord,
        Recommendation,
        RegionMatrix,
        RegionResult,
        SearchResult,
    )
    from simkit.search.filters import Filters
    from simkit.search.settings import SearchSettings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
