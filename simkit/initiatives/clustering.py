"""Recurring initiatives: measures of different reports grouped into clusters, labelled, with stable ids.

Method (the default, chosen by measurement: ``scripts/eval_clusters.py``; the figures are in
docs/method/initiatives.md):

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
import math
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simkit.errors import IndexLoadError, QueryError
from simkit.fileio import atomic_write
from simkit.results import ClusterChanges
from simkit.store.manifest import Manifest

if TYPE_CHECKING:  # pragma: no cover
    from simkit.reading.records import Paragraph, ParsedReport
    from simkit.store.parts import IndexParts

CLUSTERS = "clusters.json"
CENTROIDS = "clusters.centroids.npy"
ID_COUNTER = "cluster_ids.json"  # at the index root: the first cluster id never issued
FORMAT_VERSION = 1
CLUSTER_ROLES = ("measure", "leadership", "plan")
CARRIED_OUT = ("measure", "leadership")
METHODS = ("besthit-leiden", "knn-leiden", "knn-components", "agglomerative", "hdbscan")
DEFAULT_METHOD = "besthit-leiden"
DEFAULT_K = 30
DEFAULT_QUANTILE = 0.9
MATCH_JACCARD = 0.25
MATCH_OVERLAP = 0.5
MATCH_CENTROID = 0.95


# --------------------------------------------------------------------------- results
# --------------------------------------------------------------------------- units to cluster


@dataclass
class UnitTable:
    """The units to cluster, sorted by paragraph id, with their vectors (L2-normalized rows)."""

    ids: list[str]
    regions: list[str]
    years: list[int | None]
    roles: list[str]
    texts: list[str]
    vectors: np.ndarray
    rows: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, records: Sequence[tuple[str, str, int | None, str, str, int]], vectors: np.ndarray) -> UnitTable:
        """From ``(id, region, year, role, text, row)`` records; ``vectors[row]`` is each record's vector."""
        return cls._sorted(records, lambda rows: vectors[rows], int(vectors.shape[1]))

    @classmethod
    def _sorted(cls, records: Sequence[tuple[str, str, int | None, str, str, int]],
                fetch: Any, dimension: int) -> UnitTable:
        """The records sorted by id; ``fetch(rows)`` returns the vectors of those rows, in that order."""
        ordered = sorted(records, key=lambda r: r[0])
        rows = [int(r[5]) for r in ordered]
        matrix = np.ascontiguousarray(fetch(rows), dtype=np.float32) if rows else np.zeros((0, dimension),
                                                                                           np.float32)
        return cls([r[0] for r in ordered], [r[1] for r in ordered], [r[2] for r in ordered],
                   [r[3] for r in ordered], [r[4] for r in ordered], matrix, rows)

    @classmethod
    def from_parts(cls, parts: IndexParts) -> UnitTable:
        """The clusterable units of an opened index version (only their vectors are read from the FAISS index)."""
        return cls._sorted(parts.store.unit_records(CLUSTER_ROLES), parts.vectors_at, parts.dimension)

    @classmethod
    def from_build(cls, parsed: Sequence[ParsedReport], units: Sequence[Paragraph], vectors: np.ndarray) -> UnitTable:
        """The clusterable units of a build in progress (``vectors[i]`` belongs to ``units[i]``)."""
        reports = {p.report.id: p.report for p in parsed}
        records = []
        for row, unit in enumerate(units):
            if unit.boilerplate or unit.role not in CLUSTER_ROLES:
                continue
            report = reports[unit.document_id]
            records.append((unit.id, report.region or "unknown", report.year, unit.role, unit.text, row))
        return cls.of(records, vectors)


# --------------------------------------------------------------------------- graph and communities


def close_threshold(vectors: np.ndarray, regions: Sequence[str], quantile: float = DEFAULT_QUANTILE,
                    sample: int = 2000, seed: int = 0) -> float:
    """The cosine above which two units of different regions count as the same kind of measure.

    The ``quantile`` of cosines between a seeded random sample of units of different regions.
    """
    n = len(regions)
    if n < 2:
        return 1.0
    pick = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))
    block = vectors[pick]
    sims = block @ block.T
    names = np.asarray(regions, dtype=object)[pick]
    other = names[:, None] != names[None, :]
    values = sims[np.triu(other, 1)]
    return float(np.quantile(values, quantile)) if values.size else 1.0


EXACT_KNN_MAX = 50_000  # above this many units the kNN graph comes from an IVF index (see knn)


def knn(vectors: np.ndarray, k: int, block: int = 4096, *,
        exact_max: int = EXACT_KNN_MAX) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by inner product, searched in blocks.

    Exact (``IndexFlatIP``) up to ``exact_max`` rows: O(n²·d) time (timed in
    docs/method/initiatives.md, Scale). Above it, an inverted-file index (``IndexIVFFlat``,
    4·√n lists trained with FAISS's fixed k-means seed on an evenly spaced sample, 32 lists
    probed), which finds nearly all the close neighbours the graph keeps for a fraction of the
    time (``scripts/bench_cluster.py`` reports both). Rows a list search misses come back as -1
    and are dropped by the graph.
    """
    import faiss

    n, d = vectors.shape
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
    else:
        lists = max(1, min(int(4 * np.sqrt(n)), n // 39))  # FAISS wants ≥ 39 training points per list
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[:: max(1, n // (lists * 39))])
        index.nprobe = min(32, lists)
    index.add(vectors)
    sims = np.empty((n, k), np.float32)
    nbrs = np.empty((n, k), np.int64)
    for start in range(0, n, block):
        s, i = index.search(vectors[start:start + block], k + 1)
        for r in range(len(i)):  # drop the row itself wherever it ranks (duplicates may tie with it)
            own = np.where(i[r] == start + r)[0]
            keep = np.delete(np.arange(k + 1), own[0] if len(own) else k)
            sims[start + r], nbrs[start + r] = s[r, keep], i[r, keep]
    return sims, nbrs


def best_hits(sims: np.ndarray, nbrs: np.ndarray, regions: Sequence[str]) -> np.ndarray:
    """Mask of each row's best neighbour per other region (neighbours sorted by decreasing cosine)."""
    n, k = nbrs.shape
    codes = np.unique(np.asarray(regions, dtype=object), return_inverse=True)[1].astype(np.int64)
    other = codes[nbrs] != codes[:, None]
    key = np.arange(n)[:, None] * (codes.max() + 1) + codes[nbrs]
    flat = np.where(other.ravel())[0]
    _, first = np.unique(key.ravel()[flat], return_index=True)  # first = best: rows are sorted by cosine
    mask = np.zeros(n * k, dtype=bool)
    mask[flat[first]] = True
    return mask.reshape(n, k)


def edges_above(sims: np.ndarray, nbrs: np.ndarray, tau: float,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Undirected kNN edges with cosine ≥ ``tau`` (among ``mask``), deduplicated and sorted: (pairs, cosines)."""
    n, k = nbrs.shape
    src = np.repeat(np.arange(n), k)
    dst = nbrs.ravel()
    w = sims.ravel()
    keep = (w >= tau) & (dst >= 0) & (dst != src)
    if mask is not None:
        keep &= mask.ravel()
    a, b, w = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep], w[keep]
    if not len(a):
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    order = np.lexsort((b, a))
    pairs = np.stack([a[order], b[order]], axis=1)
    w = w[order]
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)
    return pairs[first], w[first]


def _leiden(n: int, pairs: np.ndarray, weights: np.ndarray, seed: int = 0) -> np.ndarray:
    import igraph

    graph = igraph.Graph(n=n, edges=pairs.tolist())
    previous = random.getstate()
    igraph.set_random_number_generator(random.Random(seed))
    try:
        part = graph.community_leiden(objective_function="modularity", weights=weights.tolist(),
                                      n_iterations=-1)
    finally:
        igraph.set_random_number_generator(random)
        random.setstate(previous)
    return np.asarray(part.membership, dtype=np.int64)


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _agglomerative(vectors: np.ndarray, pairs: np.ndarray, tau: float) -> np.ndarray:
    from scipy.sparse import coo_matrix

    try:
        from sklearn.cluster import AgglomerativeClustering
    except ImportError:  # an optional extra: the baselines only
        raise QueryError("method 'agglomerative' needs scikit-learn; pip install 'simkit[baselines]'") from None

    n = len(vectors)
    if n < 2:
        return np.zeros(n, np.int64)
    connectivity = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr() if len(
        pairs) else None
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=1.0 - tau, connectivity=connectivity)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the number of connected components … is > 1": expected
        return model.fit_predict(vectors).astype(np.int64)


def _hdbscan(vectors: np.ndarray) -> np.ndarray:
    try:
        from sklearn.cluster import HDBSCAN
    except ImportError:  # an optional extra: the baselines only
        raise QueryError("method 'hdbscan' needs scikit-learn; pip install 'simkit[baselines]'") from None

    if len(vectors) < 3:
        return np.full(len(vectors), -1, np.int64)
    return HDBSCAN(min_cluster_size=2, min_samples=1, metric="cosine", copy=True).fit_predict(
        vectors.astype(np.float64)).astype(np.int64)


def group_units(table: UnitTable, *, method: str = DEFAULT_METHOD, k: int = DEFAULT_K,
                quantile: float = DEFAULT_QUANTILE, seed: int = 0) -> tuple[list[list[int]], float]:
    """Groups of ≥ 2 units (indices into ``table``), in a canonical order, and the threshold used."""
    if method not in METHODS:
        raise QueryError(f"unknown clustering method {method!r}; use one of {', '.join(METHODS)}")
    n = len(table)
    tau = close_threshold(table.vectors, table.regions, quantile, seed=seed)
    if n < 2:
        return [], tau
    sims, nbrs = knn(table.vectors, k)
    mask = best_hits(sims, nbrs, table.regions) if method == "besthit-leiden" else None
    pairs, weights = edges_above(sims, nbrs, tau, mask)
    if method in ("besthit-leiden", "knn-leiden"):
        shifted = (weights - tau) / max(1e-6, 1.0 - tau) + 1e-3
        labels = _leiden(n, pairs, shifted, seed)
    elif method == "knn-components":
        labels = _components(n, pairs)
    elif method == "agglomerative":
        labels = _agglomerative(table.vectors, edges_above(sims, nbrs, -1.0)[0], tau)
    else:
        labels = _hdbscan(table.vectors)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        if label >= 0:
            groups.setdefault(label, []).append(i)
    kept = [sorted(g) for g in groups.values() if len(g) >= 2]
    kept.sort(key=lambda g: (-len(g), g[0]))
    return kept, tau


# --------------------------------------------------------------------------- labels


_GOVERNMENT_WORDS = (
    # Words of any measure of a rule-of-law report: they name no initiative (on top of simkit.store.lexical.STOPWORDS).
    "组织 机制 制度 体系 水平 能力 质量 作用 方式 基础 重点 领域 问题 活动 服务 管理 政府 部门",
    "单位 人员 全市 全区 全县 市级 区级 县级 全省 我省 年 月 日 次 家 件 个 余 万元 亿元",
    "多 新 好 更 共 累计 同比 增长 相关 有关 办理 实施 法治 依法 法律 行政 规范 工作 建立",
    "形成 打造 构建 创新 优化 保障 发挥 依法行政 法治政府 进行 做好 抓好 二是 三是 一是 四是",
    "五是 六是 同志 主要 负责人 领导 市委 区委 县委 市政府 区政府 县政府",
)
_EXTRA_STOPWORDS = frozenset(" ".join(_GOVERNMENT_WORDS).split())
_QUOTED = re.compile(r"“([^”]{2,16})”|《([^》]{2,30})》")
_DIGITS = re.compile(r"^[\d.%]+$")


def _words(text: str) -> list[str]:
    from simkit.store.lexical import STOPWORDS, tokenize

    return [w for w in tokenize(text, "words")
            if len(w) >= 2 and w not in STOPWORDS and w not in _EXTRA_STOPWORDS and not _DIGITS.match(w)]


def label_groups(texts: list[list[str]], regions: list[list[str]], background: Sequence[str] = (),
                 top: int = 6) -> list[tuple[str, list[str]]]:
    """A short label and keywords per group of texts, by class-based TF-IDF over jieba words.

    ``background`` (the unclustered units) is one more class, so that words common everywhere
    score low. A quoted name or a 《title》 used by at least two regions of a group is its label.
    """
    cache: dict[str, list[str]] = {}

    def words(text: str) -> list[str]:
        if text not in cache:
            cache[text] = _words(text)
        return cache[text]

    counts = [Counter(w for t in group for w in words(t)) for group in texts]
    background_counts = Counter(w for t in background for w in _words(t))
    classes = [*counts, background_counts]
    frequency: Counter[str] = Counter()
    for c in classes:
        frequency.update(c)
    average = sum(sum(c.values()) for c in classes) / max(1, len(classes))
    results = []
    for group, group_regions, c in zip(texts, regions, counts):
        total = sum(c.values()) or 1
        scores = {w: (n / total) * math.log(1 + average / frequency[w]) for w, n in c.items()}
        # Words found in several regions' texts describe the shared initiative, not one report.
        spread = {(w, r) for t, r in zip(group, group_regions) for w in words(t)}
        region_count = Counter(w for w, _ in spread)
        keywords = sorted(scores, key=lambda w: (-(region_count[w] > 1), -scores[w], w))[:top]
        quoted = Counter()
        for r in set(group_regions):
            names = {m.group(0) for t, tr in zip(group, group_regions) if tr == r for m in _QUOTED.finditer(t)}
            quoted.update(names)
        shared = sorted((q for q, n in quoted.items() if n >= 2), key=lambda q: (-quoted[q], len(q), q))
        if shared:
            label = shared[0]
            name = shared[0].strip("“”《》")
            keywords = [name] + [w for w in keywords if w != name][: top - 1]
            if len(name) <= 3 and len(keywords) > 1:  # “八五” alone says little: “八五”普法
                label += keywords[1]
        else:
            label = "、".join(keywords[:3]) or "（无标签）"
        results.append((label, keywords))
    return results


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
    old_members = [set(c["members"]) for c in previous.clusters]
    old_ids = [c["id"] for c in previous.clusters]
    where: dict[str, int] = {}
    for j, m in enumerate(old_members):
        for pid in m:
            where[pid] = j
    overlap: dict[tuple[int, int], int] = Counter()
    for i, m in enumerate(members):
        for pid in m:
            if pid in where:
                overlap[(i, where[pid])] += 1
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


def cluster_table(table: UnitTable, previous: StoredClustering | None = None, *, version: str | None = None,
                  method: str = DEFAULT_METHOD, k: int = DEFAULT_K, quantile: float = DEFAULT_QUANTILE,
                  model: dict[str, Any] | None = None, first_id: int = 1) -> StoredClustering:
    """Cluster the units, label the clusters and give them ids matched against ``previous``.

    ``model`` (``{id, fingerprint, dimension}`` of the embedding model) is stored in the params;
    new ids start at ``first_id`` at least.
    """
    groups, tau = group_units(table, method=method, k=k, quantile=quantile)
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
    labels = label_groups([[table.texts[i] for i in g] for g in groups],
                          [[table.regions[i] for i in g] for g in groups],
                          [table.texts[i] for i in range(len(table)) if i not in in_group])
    member_ids = [{table.ids[i] for i in g} for g in groups]
    comparable = previous is not None and same_model(model, previous)
    ids, next_id, changes = _assign_ids(member_ids, centroids, previous, first_id=first_id, same_space=comparable)
    clusters = [
        {"id": ids[g], "label": labels[g][0], "keywords": labels[g][1], "cohesion": cohesion[g],
         "representative": table.ids[representative[g]], "members": [table.ids[i] for i in members],
         "rows": [table.rows[i] for i in members]}
        for g, members in enumerate(groups)
    ]
    params: dict[str, Any] = {"k": k, "quantile": quantile, "threshold": round(tau, 4),
                              "roles": list(CLUSTER_ROLES), "units": len(table)}
    if model is not None:
        params["model"] = dict(model)
    return StoredClustering(version, method, params, next_id, clusters, centroids, changes,
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
                   root: Path | None = None, warnings: list[str] | None = None) -> list[str]:
    """Cluster a build in progress into ``directory``, matching ids against the version in ``previous_dir``.

    ``model`` (see :func:`model_key`) decides whether centroids may be compared with the
    previous version's. With ``root`` (the index directory, whose writer lock the caller holds)
    new ids start above every id the index has issued, and its counter is advanced. Problems
    with earlier clusterings never fail the build: they go to ``warnings``.
    """
    previous = _previous_clustering(previous_dir, warnings) if previous_dir is not None else None
    first_id = next_cluster_id(root, warnings) if root is not None else 1
    clustering = cluster_table(UnitTable.from_build(parsed, units, vectors), previous, version=version,
                               model=model, first_id=first_id)
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
        found = cluster_table(UnitTable.from_parts(parts), version=parts.version.name,
                              model=_manifest_model(parts.version.path))
    return found
