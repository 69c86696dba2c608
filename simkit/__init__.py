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
    "build_index": "simkit.pipeline.build",
    "BuildResult": "simkit.pipeline.build",
    "open_index": "simkit.search.engine",
    "SimkitIndex": "simkit.search.engine",
    "SearchResult": "simkit.search.engine",
    "RegionResult": "simkit.search.engine",
    "Hit": "simkit.search.engine",
    "ParagraphRecord": "simkit.search.engine",
    "Embedder": "simkit.embedding.embedder",
    "parse_report": "simkit.reading.parse",
    "rebuild_index": "simkit.pipeline.rebuild",
    "RebuildReport": "simkit.pipeline.rebuild",
    "SimkitError": "simkit.errors",
    "ClusterSet": "simkit.initiatives.clustering",
    "Initiative": "simkit.initiatives.clustering",
    "MissingInitiative": "simkit.initiatives.clustering",
}

if TYPE_CHECKING:
    from simkit.embedding.embedder import Embedder
    from simkit.errors import SimkitError
    from simkit.initiatives.clustering import ClusterSet, Initiative, MissingInitiative
    from simkit.pipeline.build import BuildResult, build_index
    from simkit.pipeline.rebuild import RebuildReport, rebuild_index
    from simkit.reading.parse import parse_report
    from simkit.search.engine import Hit, ParagraphRecord, RegionResult, SearchResult, SimkitIndex, open_index


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
