"""simkit: which regions did something similar? Semantic search over Chinese rule-of-law reports.

Public API::

    import simkit
    simkit.build_index(["examples/reports"], "indexes/demo")
    index = simkit.open_index("indexes/demo")
    result = index.search("在乡镇推行综合执法改革", k=5)
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
    "Hit",
    "Initiative",
    "MissingInitiative",
    "ParagraphRecord",
    "RebuildReport",
    "RegionResult",
    "SearchResult",
    "SimkitError",
    "SimkitIndex",
    "__version__",
    "build_index",
    "open_index",
    "parse_report",
    "rebuild_index",
]

_LAZY = {
    "build_index": "simkit.build",
    "BuildResult": "simkit.build",
    "open_index": "simkit.search",
    "SimkitIndex": "simkit.search",
    "SearchResult": "simkit.search",
    "RegionResult": "simkit.search",
    "Hit": "simkit.search",
    "ParagraphRecord": "simkit.search",
    "Embedder": "simkit.embed",
    "parse_report": "simkit.ingest",
    "rebuild_index": "simkit.rebuild",
    "RebuildReport": "simkit.rebuild",
    "SimkitError": "simkit.errors",
    "ClusterSet": "simkit.cluster",
    "Initiative": "simkit.cluster",
    "MissingInitiative": "simkit.cluster",
}

if TYPE_CHECKING:
    from .build import BuildResult, build_index
    from .cluster import ClusterSet, Initiative, MissingInitiative
    from .embed import Embedder
    from .errors import SimkitError
    from .ingest import parse_report
    from .rebuild import RebuildReport, rebuild_index
    from .search import Hit, ParagraphRecord, RegionResult, SearchResult, SimkitIndex, open_index


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
