"""A self-contained HTML page of an index's recurring initiatives (plotly, its JavaScript inlined: works offline).

Sections: a region × initiative heatmap (year, carried out or only planned), adoption by year per
initiative, a 2-D map of the units (PCA of their vectors) coloured by initiative, and one card per
initiative with its label, keywords, regions and evidence snippets. The map plots at most
:data:`MAP_POINTS` units (a seeded sample, stratified by initiative), so the page stays small for
large indexes.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from simkit.fileio import output_writer
from simkit.initiatives.units import CARRIED_OUT, UnitTable
from simkit.initiatives.views import Initiatives, by_region
from simkit.results import ClusterSet, Initiative

SNIPPET = 140
MAP_POINTS = 20_000  # the most units the map plots (each point carries hover text: ~300 bytes)
_CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f6f7f9;
color:#1d2733}
header{background:#1d3557;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;opacity:.85}main{padding:16px 32px 48px}section{background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.08);padding:16px 20px;margin:16px 0}h2{font-size:18px;margin:0 0 8px}
.note{color:#5b6876;font-size:13px;margin:0 0 8px}.cards{display:grid;grid-template-columns:repeat(auto-fill,
minmax(360px,1fr));gap:14px}.card{border:1px solid #dde3ea;border-left:6px solid var(--c);border-radius:6px;
padding:12px 14px;background:#fff}.card h3{margin:0 0 6px;font-size:16px}.card .id{color:#8795a1;font-size:12px;
font-weight:normal;margin-left:6px}.kw{display:inline-block;background:#eef2f7;border-radius:10px;padding:1px 8px;
margin:2px 3px 2px 0;font-size:12px}.regions{margin:8px 0;font-size:13px}.region{display:inline-block;
margin:2px 6px 2px 0;padding:1px 6px;border-radius:4px;background:#e3f1e6}.region.planned{background:#fdf1d6}
.snip{font-size:13px;line-height:1.5;margin:6px 0;padding-left:8px;border-left:2px solid #dde3ea}
.snip b{color:#1d3557}.meta{color:#8795a1;font-size:12px}.role{color:#5b6876;font-size:11px;
border:1px solid #dde3ea;border-radius:3px;padding:0 3px}
"""
_PALETTE = ["#e63946", "#457b9d", "#2a9d8f", "#f4a261", "#6a4c93", "#8ab17d", "#e76f51", "#264653", "#b5838d",
            "#ffb703", "#219ebc", "#8d99ae", "#d62828", "#588157", "#9c6644", "#3a86ff"]


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _short(text: str, n: int = SNIPPET) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _name(c: Initiative, n: int = 14) -> str:
    return f"{c.id} {_short(c.label, n)}"


def heatmap_figure(clusters: ClusterSet) -> Any:
    """Region × initiative: 2 carried out, 1 only planned, blank absent; the cell text is the year."""
    import plotly.graph_objects as go

    regions = sorted({r for c in clusters.clusters for r in c.regions})
    z, text, hover = [], [], []
    for region in regions:
        row, row_text, row_hover = [], [], []
        for c in clusters.clusters:
            status = c.region_status.get(region)
            row.append(None if status is None else (2 if status == "carried_out" else 1))
            year = c.years.get(region)
            row_text.append("" if status is None else str(year or "✓"))
            row_hover.append(f"{region} · {c.label}<br>" + ("—" if status is None else
                                                              f"{year or '?'} · {status.replace('_', ' ')}"))
        z.append(row)
        text.append(row_text)
        hover.append(row_hover)
    figure = go.Figure(go.Heatmap(
        z=z, x=[_name(c) for c in clusters.clusters], y=regions, text=text, texttemplate="%{text}",
        hovertext=hover, hoverinfo="text", zmin=0, zmax=2, xgap=2, ygap=2, showscale=False,
        colorscale=[[0, "#f6f7f9"], [0.5, "#f4c95d"], [1, "#2a9d8f"]],
    ))
    figure.update_layout(height=max(300, 150 + 34 * len(regions)), margin={"l": 10, "r": 90, "t": 140, "b": 10},
                         xaxis={"side": "top", "tickangle": -30}, yaxis={"autorange": "reversed"},
                         plot_bgcolor="#ffffff")
    return figure


def adoption_figure(clusters: ClusterSet) -> Any:
    """Regions reporting each initiative, stacked by the year their report covers."""
    import plotly.graph_objects as go

    years = sorted({y for c in clusters.clusters for y in c.years.values() if y is not None})
    names = [_name(c) for c in clusters.clusters]
    figure = go.Figure()
    for i, year in enumerate(years):
        counts = [sum(1 for y in c.years.values() if y == year) for c in clusters.clusters]
        figure.add_bar(x=names, y=counts, name=str(year), marker_color=_color(i + 1))
    unknown = [sum(1 for y in c.years.values() if y is None) for c in clusters.clusters]
    if any(unknown):
        figure.add_bar(x=names, y=unknown, name="year unknown", marker_color="#b0b8c1")
    figure.update_layout(barmode="stack", height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         yaxis={"title": "regions", "dtick": 1}, xaxis={"tickangle": -30},
                         legend={"title": "report year"}, plot_bgcolor="#ffffff")
    return figure


def _principal_axes(vectors: np.ndarray, block: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the first two principal axes (2 × d, sign fixed: same index, same picture) of the rows.

    From the d × d scatter matrix, accumulated in blocks: no n × d copy is made.
    """
    n, d = vectors.shape
    mean = vectors.mean(axis=0, dtype=np.float64)
    if n < 2:
        return mean, np.zeros((2, d))
    scatter = np.zeros((d, d))
    for start in range(0, n, block):
        part = vectors[start:start + block].astype(np.float64) - mean
        scatter += part.T @ part
    _, eigenvectors = np.linalg.eigh(scatter)
    axes = eigenvectors[:, ::-1][:, :2].T
    sums = axes.sum(axis=1, keepdims=True)
    return mean, axes * (np.sign(sums) + (sums == 0))


def _quotas(sizes: list[int], limit: int) -> list[int]:
    """How many points of each stratum to plot: all if they fit, else ``limit`` in all, shared in
    proportion to size (largest remainders), every non-empty stratum keeping at least one while it can."""
    if sum(sizes) <= limit:
        return list(sizes)
    quotas = [0] * len(sizes)
    budget = limit
    for g, size in enumerate(sizes):  # one point each first, so no initiative disappears from the map
        if size and budget:
            quotas[g], budget = 1, budget - 1
    spare = [size - q for size, q in zip(sizes, quotas)]
    total = sum(spare)
    if budget and total:
        shares = [budget * n / total for n in spare]
        extra = [int(x) for x in shares]
        order = sorted(range(len(sizes)), key=lambda g: (-(shares[g] - extra[g]), g))
        for g in order[: budget - sum(extra)]:
            extra[g] += 1
        quotas = [q + e for q, e in zip(quotas, extra)]
    return quotas


def map_strata(table: UnitTable, clusters: ClusterSet,
               limit: int = MAP_POINTS) -> list[tuple[str, list[int], str, int]]:
    """The map's traces ``(name, rows of table, colour, marker size)``: the units outside any initiative,
    then each initiative's (a unit in several, in the first); at most ``limit`` rows in all, a seeded sample
    stratified by trace."""
    position = {pid: i for i, pid in enumerate(table.ids)}
    placed: set[int] = set()
    traces = []
    for n, c in enumerate(clusters.clusters):
        # A unit in several initiatives is drawn once, in the first (largest) one's colour.
        rows = sorted({position[u.paragraph_id] for u in c.units if u.paragraph_id in position} - placed)
        placed.update(rows)
        traces.append((_name(c), rows, _color(n), 9))
    rest = [i for i in range(len(table)) if i not in placed]
    traces.insert(0, ("not in an initiative", rest, "#c3c9d0", 6))
    quotas = _quotas([len(rows) for _, rows, _, _ in traces], max(0, limit))
    rng = np.random.default_rng(0)
    sampled = []
    for (name, rows, color, size), quota in zip(traces, quotas):
        if quota < len(rows):
            rows = sorted(np.asarray(rows)[np.sort(rng.choice(len(rows), size=quota, replace=False))].tolist())
        sampled.append((name, rows, color, size))
    return sampled


def unit_map_figure(table: UnitTable, clusters: ClusterSet, limit: int = MAP_POINTS) -> Any:
    """The clusterable units projected on their first two principal components, coloured by initiative.

    The projection uses every unit; at most ``limit`` of them are plotted (see :func:`map_strata`).
    """
    import plotly.graph_objects as go

    figure = go.Figure()
    mean, axes = _principal_axes(table.vectors)
    for name, rows, color, size in map_strata(table, clusters, limit):
        if not rows:
            continue
        xy = (table.vectors[rows] - mean) @ axes.T
        figure.add_scatter(
            x=xy[:, 0], y=xy[:, 1], mode="markers", name=name,
            marker={"color": color, "size": size, "line": {"width": 0.5, "color": "#ffffff"}},
            hovertext=[f"{table.regions[i]} {table.years[i] or ''} · {table.roles[i]}<br>{_short(table.texts[i], 60)}"
                       for i in rows], hoverinfo="text",
        )
    figure.update_layout(height=560, margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="#ffffff",
                         legend={"y": 0.95, "yanchor": "top"},
                         xaxis={"title": "PC 1", "zeroline": False, "showgrid": False},
                         yaxis={"title": "PC 2", "zeroline": False, "showgrid": False})
    return figure


def _card(c: Initiative, n: int) -> str:
    regions = "".join(
        f'<span class="region{" planned" if c.region_status.get(r) == "planned" else ""}">{html.escape(r)} '
        f'{c.years.get(r) or ""}{" (plan)" if c.region_status.get(r) == "planned" else ""}</span>'
        for r in c.regions)
    snippets = []
    grouped = by_region(c.units)
    for region in c.regions:  # the sentence (or unit) closest to the centroid in each region, with its role
        best = max(grouped[region], key=lambda u: u.similarity)
        role = "carried out" if best.role in CARRIED_OUT else "planned"
        snippets.append(f'<div class="snip"><b>{html.escape(region)}</b> <span class="role">{role}</span> '
                        f'{html.escape(_short(best.sentence or best.text))}'
                        f' <span class="meta">{html.escape(best.paragraph_id)}</span></div>')
    keywords = "".join(f'<span class="kw">{html.escape(k)}</span>' for k in c.keywords)
    return (f'<div class="card" id="card-{html.escape(c.id)}" style="--c:{_color(n)}">'
            f'<h3>{html.escape(c.label)}<span class="id">{html.escape(c.id)}</span></h3>'
            f'{_named_by(c)}'
            f'<div>{keywords}</div><div class="regions">{regions}</div>'
            f'<div class="meta">{len(c.units)} units · cohesion {c.cohesion:.3f} · {c.status.replace("_", " ")}'
            f'</div>{"".join(snippets)}</div>')


def _named_by(c: Initiative) -> str:
    """The card's note on its name: the phrase its members share, or keywords only."""
    if c.named_by == "phrase":
        return f'<div class="meta">named by the phrase its members share: <b>{html.escape(c.label)}</b></div>'
    if c.named_by == "keywords":
        return '<div class="meta">no shared phrase: named by keywords</div>'
    return ""


def _map_note(units: int, limit: int) -> str:
    if units <= limit:
        return "Every measure as a point (PCA of its embedding); measures of one initiative share a colour."
    return (f"A sample of {limit:,} of the {units:,} measures (seeded, stratified by initiative: each keeps its "
            "share, and at least one point), as points (PCA of all embeddings); measures of one initiative "
            "share a colour.")


def render_report(initiatives: Initiatives, min_regions: int = 2, max_points: int = MAP_POINTS) -> str:
    """The HTML page of an index version's initiatives; its map plots at most ``max_points`` units."""
    clusters = initiatives.clusters(min_regions=min_regions)
    table = UnitTable.from_parts(initiatives.parts)
    documents = initiatives.parts.store.documents()
    regions = sorted({str(d["reporter"]) for d in documents})
    figures = [("heatmap", "Who does what", "Region × initiative: the year each region's report covers it "
                "(green: carried out, yellow: only planned).", heatmap_figure(clusters)),
               ("adoption", "Adoption by year", "Regions reporting each initiative, by the year their report "
                "covers.", adoption_figure(clusters)),
               ("unit-map", "Map of measures", _map_note(len(table), max_points),
                unit_map_figure(table, clusters, max_points))]
    sections = []
    for n, (div_id, title, note, figure) in enumerate(figures):
        body = figure.to_html(full_html=False, include_plotlyjs=(n == 0), div_id=div_id,
                              config={"displaylogo": False, "responsive": True})
        sections.append(f'<section><h2>{title}</h2><p class="note">{note}</p>{body}</section>')
    cards = "".join(_card(c, n) for n, c in enumerate(clusters.clusters)) or "<p>No recurring initiative found.</p>"
    sections.append(f'<section><h2>Initiatives</h2><p class="note">Label and keywords from the members\' words; '
                    f'one sentence per region (its most central), carried out or planned.</p>'
                    f'<div class="cards" id="cards">{cards}'
                    f'</div></section>')
    title = f"Recurring initiatives · {len(clusters.clusters)} initiatives in {len(regions)} regions"
    summary = (f"{len(documents)} reports ({', '.join(html.escape(r) for r in regions)}) · index version "
               f"{html.escape(str(clusters.version))} · initiatives found in ≥ {min_regions} regions · "
               f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    return (f'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
            f'<body><header><h1>{html.escape(title)}</h1><p>{summary}</p></header><main>{"".join(sections)}'
            f'</main></body></html>\n')


def write_report(initiatives: Initiatives, out: Path | TextIO, min_regions: int = 2) -> Path | TextIO:
    """Write the page to ``out`` and return ``out``: a path, replaced atomically when it is a file (written
    through when it is a device or FIFO; :func:`simkit.fileio.atomic_writer`), or an open text stream."""
    page = render_report(initiatives, min_regions)
    with output_writer(out) as handle:
        handle.write(page)
    return out
