"""Recurring initiatives: measures of different reports grouped into clusters, labelled, with stable ids.

An index with sentence vectors is clustered at the **sentence grain** (issue 19; constants
:data:`SENTENCE_SETTINGS`, chosen by ``simkit eval --initiatives --folds``; docs/method/initiatives.md):
the sentences of the units below, less formula and pure statistics
(:class:`~simkit.initiatives.units.SentenceTable`), linked by reciprocal best hits (``rbh-leiden``),
Leiden communities with secondary memberships (a sentence may be in several; a unit is in every cluster
one of its sentences is in), each named by the phrase its members share
(:func:`~simkit.initiatives.labels.name_groups`), ids matched on sentence ids. The unit grain below
(:data:`UNIT_SETTINGS`) is the method before, used for an index without sentence vectors:

1. **Units.** Indexed units with role ``measure``, ``leadership`` (carried out) or ``plan``
   (planned), boilerplate excluded; sorted by paragraph id, so the input order never matters.
2. **Best-hit graph.** Each unit's ``k`` (30) nearest units by cosine (FAISS, exact inner
   product, in blocks: memory O(n·k), never an n × n matrix); of those, the best one of each
   *other* region is linked to it (as reciprocal best hits link orthologous genes), when its
   cosine reaches the index's *close* threshold: the ``quantile`` (90 %) of cosines between
   random units of different regions. e5's cosines are compressed and model-specific; a
   quantile of the index's own background distribution carries over between models and corpora.
3. **Communities.** Leiden (igraph, modularity, seeded RNG) on that graph, edges weighted by
   how far above the threshold they are. Alternatives measured: Leiden on the plain kNN graph,
   connected components, agglomerative clustering (average linkage, restricted to the kNN
   graph) and HDBSCAN (for comparison only: it needs the full distance matrix).
4. **Labels.** Class-based TF-IDF over jieba words (generic government phrasing removed);
   a quoted programme name (“一件事”) or a 《title》 shared by several regions of the cluster is
   preferred as the label. The representative unit is the one closest to the centroid.
5. **Stable ids.** A clustering is stored with the index version (``clusters.json`` +
   ``clusters.centroids.npy``). A rebuild matches its clusters to the previous version's by
   member overlap (Jaccard ≥ 0.25, best pairs first; clusters sharing no member at all, as after
   edits, by centroid cosine ≥ 0.95, only when both clusterings come from the same model and
   dimension): an initiative keeps its id, and new, merged, split and vanished clusters are
   recorded. New ids are never reused: they start above every id that any retained version or the
   index's counter (``cluster_ids.json`` at the index root, advanced by every build) has issued.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simkit.errors import IndexLoadError
from simkit.fileio import atomic_write
from simkit.initiatives.graph import (
    DEFAULT_K,
    DEFAULT_METHOD,
    DEFAULT_QUANTILE,
    DEFAULT_RESOLUTION,
    DEFAULT_STRICT,
    group_units,
)
from simkit.initiatives.labels import label_groups, name_groups
from simkit.initiatives.units import CLUSTER_ROLES, SentenceTable, UnitTable
from simkit.results import ClusterChanges
from simkit.store.manifest import Manifest

if TYPE_CHECKING:  # pragma: no cover
    from simkit.reading.records import Paragraph, ParsedReport
    from simkit.store.parts import IndexParts

CLUSTERS = "clusters.json"
CENTROIDS = "clusters.centroids.npy"
ID_COUNTER = "cluster_ids.json"  # at the index root: the first cluster id never issued
FORMAT_VERSION = 1
MATCH_JACCARD = 0.25
MATCH_OVERLAP = 0.5
MATCH_CENTROID = 0.95


# --------------------------------------------------------------------------- clustering with ids


@dataclass
class StoredClustering:
    """A clustering as persisted with an index version (``clusters.json`` + centroids)."""

    version: str | None
    method: str
    params: dict[str, Any]
    next_id: int
    clusters: list[dict[str, Any]]  # id, label, keywords, members [paragraph ids], rows, representative, cohesion
    centroids: np.ndarray
    changes: ClusterChanges = field(default_factory=ClusterChanges)
    created_at: str = ""

    def save(self, directory: Path) -> list[str]:
        """Write ``clusters.json`` and ``clusters.centroids.npy``; returns the file names."""
        data = {"format_version": FORMAT_VERSION, "created_at": self.created_at, "version": self.version,
                "method": self.method, "params": self.params, "next_id": self.next_id,
                "changes": asdict(self.changes), "clusters": self.clusters}
        (directory / CLUSTERS).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        np.save(directory / CENTROIDS, self.centroids.astype(np.float32), allow_pickle=False)
        return [CLUSTERS, CENTROIDS]

    @classmethod
    def load(cls, directory: Path) -> StoredClustering | None:
        """The clustering stored in a version directory, or None if it has none (older index)."""
        path = directory / CLUSTERS
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format_version') if isinstance(data, dict) else '?'} "
                                 f"(expected {FORMAT_VERSION})")
            clusters = data["clusters"]
            if not isinstance(clusters, list) or not all(
                    isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("members"), list)
                    and isinstance(c.get("rows"), list) for c in clusters):
                raise ValueError("clusters are not a list of {id, members, rows}")
            if not isinstance(data["params"], dict):
                raise ValueError("params are not an object")
            centroids = np.load(directory / CENTROIDS, allow_pickle=False)
            if centroids.ndim != 2 or len(centroids) != len(clusters):
                raise ValueError("centroids do not match the clusters")
            return cls(data.get("version"), data["method"], data["params"], int(data["next_id"]), clusters,
                       centroids.astype(np.float32, copy=False), ClusterChanges(**data.get("changes", {})),
                       data.get("created_at", ""))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexLoadError(f"{path}: unreadable clustering ({exc}); rebuild the index") from exc


def _format_id(number: int) -> str:
    return f"c{number:04d}"


def _id_number(cluster_id: Any) -> int:
    """The number of an id ``c0042`` (0 for anything else)."""
    match = re.fullmatch(r"c(\d+)", cluster_id) if isinstance(cluster_id, str) else None
    return int(match.group(1)) if match else 0


def _keys(cluster: dict[str, Any]) -> set[str]:
    """What a stored cluster is matched by: its sentence ids (sentence grain) or its member unit ids."""
    if isinstance(cluster.get("sentences"), list):
        return {str(x["id"]) for x in cluster["sentences"]}
    return set(cluster["members"])


def _assign_ids(members: list[set[str]], centroids: np.ndarray, previous: StoredClustering | None,
                *, first_id: int = 1, same_space: bool = True) -> tuple[list[str], int, ClusterChanges]:
    """Ids for new groups, matched to the previous clustering by member overlap, then centroid cosine.

    New ids start at ``first_id`` or above every id of ``previous``, whichever is higher. Centroids
    are compared only when ``same_space`` (both clusterings embedded by the same model) and their
    dimensions agree.
    """
    floor = max(1, first_id)
    if previous is not None:
        floor = max(floor, previous.next_id, *(_id_number(c.get("id")) + 1 for c in previous.clusters))
    if previous is None or not previous.clusters:
        ids = [_format_id(floor + i) for i in range(len(members))]
        return ids, floor + len(members), ClusterChanges(previous.version if previous else None, [], ids, [], [], [])
    old_members = [_keys(c) for c in previous.clusters]
    old_ids = [c["id"] for c in previous.clusters]
    where: dict[str, list[int]] = {}
    for j, m in enumerate(old_members):
        for pid in m:
            where.setdefault(pid, []).append(j)  # several with sentences shared between initiatives
    overlap: dict[tuple[int, int], int] = Counter()
    for i, m in enumerate(members):
        for pid in m:
            for j in where.get(pid, ()):
                overlap[(i, j)] += 1
    candidates: list[tuple[int, float, int, int]] = []
    for (i, j), n in overlap.items():
        score = n / (len(members[i]) + len(old_members[j]) - n)  # Jaccard: the id follows the bulk
        if score >= MATCH_JACCARD:
            candidates.append((0, -score, i, j))
    # Centroids only pair clusters that share no member at all (their paragraphs were edited, so ids changed).
    fresh = [i for i, m in enumerate(members) if not any(pid in where for pid in m)]
    present = set().union(*members) if members else set()
    gone = [j for j, m in enumerate(old_members) if not (m & present)]
    comparable = (same_space and centroids.ndim == 2 and previous.centroids.ndim == 2
                  and centroids.shape[1] == previous.centroids.shape[1])
    if comparable and fresh and gone and len(centroids) and len(previous.centroids):
        cos = centroids[fresh] @ previous.centroids[gone].T
        for a, b in zip(*np.where(cos >= MATCH_CENTROID)):
            candidates.append((1, -float(cos[a, b]), fresh[a], gone[b]))  # overlap matches rank first
    candidates.sort()
    ids: list[str | None] = [None] * len(members)
    used: set[int] = set()
    for _, _, i, j in candidates:
        if ids[i] is None and j not in used:
            ids[i] = old_ids[j]
            used.add(j)
    next_id = floor
    new: list[str] = []
    for i in range(len(members)):
        if ids[i] is None:
            ids[i] = _format_id(next_id)
            new.append(ids[i])  # type: ignore[arg-type]
            next_id += 1
    final = [str(x) for x in ids]
    merged: list[dict[str, Any]] = []
    split: list[dict[str, Any]] = []
    absorbed: set[int] = set()
    for i in range(len(members)):  # old clusters whose members mostly went into a cluster with another id
        sources = [j for (a, j), n in overlap.items() if a == i and j not in used
                   and n / len(old_members[j]) >= MATCH_OVERLAP]
        if sources:
            merged.append({"into": final[i], "from": sorted(old_ids[j] for j in sources)})
            absorbed.update(sources)
    for j in sorted(used):
        i = final.index(old_ids[j])
        parts = sorted({final[a] for (a, b), n in overlap.items() if b == j and a != i and final[a] in new
                        and n / len(members[a]) >= MATCH_OVERLAP})
        if parts:
            split.append({"from": old_ids[j], "into": parts})
    kept = sorted(old_ids[j] for j in used)
    vanished = sorted(old_ids[j] for j in range(len(old_ids)) if j not in used and j not in absorbed)
    return final, next_id, ClusterChanges(previous.version, kept, sorted(new), merged, split, vanished)


def same_model(model: dict[str, Any] | None, previous: StoredClustering) -> bool:
    """Whether ``previous``'s centroids can be compared with those of vectors from ``model``.

    ``model`` and the previous clustering's ``params["model"]`` are ``{id, fingerprint, dimension}``;
    they must agree where both are known (the dimension is checked separately, on the centroids).
    """
    before = previous.params.get("model") if isinstance(previous.params, dict) else None
    if model is None or not isinstance(before, dict):
        return True
    return all(model.get(key) == before.get(key) for key in ("id", "fingerprint", "dimension"))


SENTENCE_SETTINGS: dict[str, Any] = {"method": "rbh-leiden", "k": DEFAULT_K, "quantile": 0.8, "strict": 0.99,
                                      "resolution": 1.0, "overlap": 1, "attach": 0.9}
"""The shipped constants of the sentence grain (chosen by ``simkit eval --initiatives --folds``;
docs/method/initiatives.md)."""
UNIT_SETTINGS: dict[str, Any] = {"method": DEFAULT_METHOD, "k": DEFAULT_K, "quantile": DEFAULT_QUANTILE,
                                  "strict": DEFAULT_STRICT, "resolution": DEFAULT_RESOLUTION, "overlap": 0,
                                  "attach": None}
"""The constants of the unit grain (the method before issue 19, kept for indexes without sentence vectors)."""
SENTENCE_GRAIN_MAX = 1_000_000
"""Above this many stored sentences (about 370,000 units) initiatives are clustered at the unit grain: the
sentence graph's cost grows as the unit graph's does, and a million items is where the unit graph was
measured at 754 s and 5.2 GB on 2 cores (docs/method/initiatives.md, Scale); a million units hold ~2.7 M
sentences (4 GB of float32 vectors, ~50 min of kNN search at that rate)."""


def sentence_grain(sentence_count: int) -> bool:
    """Whether an index with ``sentence_count`` stored sentences is clustered at the sentence grain."""
    return 0 < sentence_count <= SENTENCE_GRAIN_MAX


def cluster_table(table: UnitTable, previous: StoredClustering | None = None, *, version: str | None = None,
                  method: str | None = None, k: int | None = None, quantile: float | None = None,
                  model: dict[str, Any] | None = None, first_id: int = 1,
                  resolution: float | None = None, strict: float | None = None,
                  overlap: int | None = None, attach: float | None = None) -> StoredClustering:
    """Cluster the items of ``table``, name the clusters and give them ids matched against ``previous``.

    A :class:`SentenceTable` is clustered at the sentence grain (:data:`SENTENCE_SETTINGS`): each cluster
    lists its sentences, and its members are their units (a unit is in every cluster one of its sentences
    is in); a plain :class:`UnitTable` at the unit grain (:data:`UNIT_SETTINGS`). Constants left None take
    the grain's settings. ``model`` (``{id, fingerprint, dimension}`` of the embedding model) is stored in
    the params; new ids start at ``first_id`` at least.
    """
    sentences = isinstance(table, SentenceTable)
    settings = dict(SENTENCE_SETTINGS if sentences else UNIT_SETTINGS)
    for key, value in (("method", method), ("k", k), ("quantile", quantile), ("resolution", resolution),
                       ("strict", strict), ("overlap", overlap), ("attach", attach)):
        if value is not None:
            settings[key] = value
    groups, tau = group_units(table, method=settings["method"], k=settings["k"], quantile=settings["quantile"],
                              resolution=settings["resolution"], strict=settings["strict"],
                              overlap=settings["overlap"], attach=settings["attach"])
    dim = table.vectors.shape[1] if table.vectors.ndim == 2 else 0
    centroids = np.zeros((len(groups), dim), np.float32)
    cohesion: list[float] = []
    representative: list[int] = []
    for g, members in enumerate(groups):
        block = table.vectors[members]
        total = block.sum(axis=0)
        m = len(members)
        cohesion.append(round(float((total @ total - m) / (m * (m - 1))), 4))  # mean pairwise cosine
        centroid = total / (np.linalg.norm(total) or 1.0)
        centroids[g] = centroid
        sims = block @ centroid
        representative.append(members[int(np.argmax(sims))])
    in_group = {i for g in groups for i in g}
    background = [table.texts[i] for i in range(len(table)) if i not in in_group]
    texts = [[table.texts[i] for i in g] for g in groups]
    regions = [[table.regions[i] for i in g] for g in groups]
    if sentences:
        names = name_groups(texts, regions, background)
        labels = [(n.label, n.keywords, "phrase" if n.shared else "keywords") for n in names]
    else:
        labels = [(label, keywords, "") for label, keywords in label_groups(texts, regions, background)]
    keys = [{table.ids[i] for i in g} for g in groups]  # sentence ids at the sentence grain, unit ids otherwise
    comparable = previous is not None and same_model(model, previous)
    ids, next_id, changes = _assign_ids(keys, centroids, previous, first_id=first_id, same_space=comparable)
    clusters = []
    for g, members in enumerate(groups):
        cluster: dict[str, Any] = {"id": ids[g], "label": labels[g][0], "keywords": labels[g][1],
                                   "cohesion": cohesion[g]}
        if sentences:
            assert isinstance(table, SentenceTable)
            units = sorted({(table.unit_ids[i], table.rows[i]) for i in members})
            cluster.update({
                "named_by": labels[g][2], "representative": table.unit_ids[representative[g]],
                "members": [u for u, _ in units], "rows": [r for _, r in units],
                "sentences": [{"id": table.ids[i], "unit": table.unit_ids[i], "row": table.rows[i],
                               "sentence_row": table.sentence_rows[i], "span": list(table.spans[i])}
                              for i in sorted(members, key=lambda i: table.ids[i])]})
        else:
            cluster.update({"representative": table.ids[representative[g]],
                            "members": [table.ids[i] for i in members], "rows": [table.rows[i] for i in members]})
        clusters.append(cluster)
    params: dict[str, Any] = {"granularity": "sentence" if sentences else "unit", "k": settings["k"],
                              "quantile": settings["quantile"], "threshold": round(tau, 4),
                              "roles": list(CLUSTER_ROLES), "units": len(set(table.rows))}
    if sentences:
        params.update({"method": settings["method"], "strict": settings["strict"],
                       "resolution": settings["resolution"], "overlap": settings["overlap"],
                       "attach": settings["attach"], "sentences": len(table)})
    if model is not None:
        params["model"] = dict(model)
    return StoredClustering(version, settings["method"], params, next_id, clusters, centroids, changes,
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def model_key(model_id: str | None, fingerprint: str | None, dimension: int) -> dict[str, Any]:
    """What identifies the embedding space of a clustering (stored in its params as ``model``)."""
    return {"id": model_id, "fingerprint": fingerprint, "dimension": int(dimension)}


def _manifest_model(directory: Path) -> dict[str, Any] | None:
    """The model of a version directory's manifest, as :func:`model_key` (None if unreadable)."""
    try:
        return Manifest.read(directory).model_key
    except (IndexLoadError, KeyError, TypeError, ValueError):
        return None


def _read_next_id(path: Path) -> int:
    """The ``next_id`` of a ``clusters.json`` or counter file, and above every id it lists (0 if absent)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    found = int(data["next_id"])
    for c in data.get("clusters", []):
        found = max(found, _id_number(c.get("id")) + 1)
    return found


def next_cluster_id(root: Path, warnings: list[str] | None = None) -> int:
    """The first cluster id number never issued in the index at ``root``.

    The highest of the counter file (:data:`ID_COUNTER`) and every retained version's
    ``clusters.json``: after a rollback the current version's own ``next_id`` is too low.
    Unreadable files are skipped (with a warning).
    """
    from simkit.store.layout import VERSIONS, published_versions

    found = 1
    paths = [root / ID_COUNTER] + [root / VERSIONS / name / CLUSTERS for name in published_versions(root)]
    for path in paths:
        if not path.is_file():
            continue
        try:
            found = max(found, _read_next_id(path))
        except Exception as exc:  # a damaged file only loses its share of the history
            if warnings is not None:
                warnings.append(f"{path}: unreadable ({exc}); cluster ids continue from the other versions")
    return found


def record_next_id(root: Path, next_id: int, version: str) -> None:
    """Advance the index's cluster id counter to ``next_id`` (never back), atomically.

    Call it holding the index's writer lock. Called before the version is published, so a
    version that is then discarded only leaves a gap in the numbering.
    """
    path = root / ID_COUNTER
    try:
        current = _read_next_id(path) if path.is_file() else 1
    except Exception:  # a damaged counter is replaced
        current = 1
    data = {"next_id": max(current, next_id), "version": version,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write(path, json.dumps(data) + "\n")


def _previous_clustering(previous_dir: Path, warnings: list[str] | None) -> StoredClustering | None:
    """The clustering of the version in ``previous_dir``, or None (with a warning) if it cannot be read."""
    try:
        previous = StoredClustering.load(previous_dir)
        if previous is not None:
            previous.version = previous_dir.name
            if not isinstance(previous.params.get("model"), dict):  # stored before the model was recorded
                found = _manifest_model(previous_dir)
                if found is not None:
                    previous.params = {**previous.params, "model": found}
        return previous
    except Exception as exc:  # a damaged previous clustering only costs id continuity
        if warnings is not None:
            warnings.append(f"previous clustering not used, cluster ids not matched: {exc}")
        return None


def write_clusters(directory: Path, parsed: Sequence[ParsedReport], units: Sequence[Paragraph], vectors: np.ndarray,
                   *, version: str, previous_dir: Path | None, model: dict[str, Any] | None = None,
                   root: Path | None = None, warnings: list[str] | None = None,
                   sentences: tuple[np.ndarray, Any, Any] | None = None) -> list[str]:
    """Cluster a build in progress into ``directory``, matching ids against the version in ``previous_dir``.

    ``sentences`` (the units' sentence ``offsets``, ``spans`` and vectors, see :mod:`simkit.store.sentences`)
    clusters at the sentence grain; without them the units are clustered.

    ``model`` (see :func:`model_key`) decides whether centroids may be compared with the
    previous version's. With ``root`` (the index directory, whose writer lock the caller holds)
    new ids start above every id the index has issued, and its counter is advanced. Problems
    with earlier clusterings never fail the build: they go to ``warnings``.
    """
    previous = _previous_clustering(previous_dir, warnings) if previous_dir is not None else None
    first_id = next_cluster_id(root, warnings) if root is not None else 1
    table = (SentenceTable.from_build(parsed, units, vectors, *sentences)
             if sentences is not None and sentence_grain(int(sentences[0][-1])) else None)
    table = table or UnitTable.from_build(parsed, units, vectors)
    clustering = cluster_table(table, previous, version=version, model=model, first_id=first_id)
    files = clustering.save(directory)
    if root is not None:
        try:
            record_next_id(root, clustering.next_id, version)
        except OSError as exc:  # the retained versions still carry the numbering
            if warnings is not None:
                warnings.append(f"{root / ID_COUNTER}: not updated ({exc})")
    return files


# --------------------------------------------------------------------------- reading clusters from an index


def stored_clustering(parts: IndexParts) -> StoredClustering:
    """The index version's clustering (computed now, with fresh ids, for an index built without one)."""
    found = StoredClustering.load(parts.version.path)
    if found is None:
        found = cluster_table(clustering_table(parts), version=parts.version.name,
                              model=_manifest_model(parts.version.path))
    return found


def clustering_table(parts: IndexParts) -> UnitTable:
    """What an index version is clustered over: its sentences, or its units if it stores no sentence vectors
    or more than :data:`SENTENCE_GRAIN_MAX` of them."""
    if parts.sentences is not None and sentence_grain(int(parts.sentences.offsets[-1])):
        return SentenceTable.from_parts(parts) or UnitTable.from_parts(parts)  # (None only without sentences)
    return UnitTable.from_parts(parts)
