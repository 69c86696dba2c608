"""The one renderer: every command's result goes out through :func:`render` as text, JSON or CSV.

* :func:`echo_json` is the one JSON writer. Its data comes from the result objects' ``to_dict()``
  (:func:`simkit.results.json_data`, which ``simkit serve`` answers with too), never from rows made up
  here; the envelopes (a region's recommendations, …) are result types of their own.
* :func:`echo_csv` is the one CSV writer.
* :func:`print_table` is the one path to a rich table (and :func:`console` the one console,
  which leaves a closed pipe with exit 141 like every other output). Its console reads no rich
  markup: report text such as ``[bold]x[/]`` is shown as written, never interpreted.
* :func:`clean` is the one sanitizer of text output: every value that comes from a report or the
  index passes through it before it reaches a terminal (:func:`echo_line` for lines). JSON and CSV
  keep the data as stored.
* A :class:`View` says how one kind of result looks in each format; the views of every command
  are at the end of this module, so the command modules only parse options, call the library and
  ``render(result, VIEW, fmt)``.

rich and csv are imported only when something is rendered; of the library, only :mod:`simkit.results`
(which imports nothing) is imported here.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from simkit.cli.errors import stop_writing, warn
from simkit.cli.terminal import CONTROL, clean
from simkit.results import RegionMissing, RegionRecommendations, json_data

TEXT, JSON, CSV = "text", "json", "csv"


def output_format(as_json: bool = False, as_csv: bool = False) -> str:
    """The format asked for by --json / --csv (``text``: a table or lines for people)."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    return JSON if as_json else CSV if as_csv else TEXT


# --------------------------------------------------------------------------- text for a terminal

def _clean_spans(text: str, spans: Iterable[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """:func:`clean` of ``text``, and ``spans`` (character offsets into ``text``) moved to match it."""
    removed = [(m.start(), m.end()) for m in CONTROL.finditer(text)]
    if not removed:
        return text, list(spans)

    def moved(offset: int) -> int:
        shift = 0
        for start, end in removed:
            if start >= offset:
                break
            shift += min(end, offset) - start
        return offset - shift

    return clean(text), [(moved(start), moved(end)) for start, end in spans]


def echo_line(text: str, **style: Any) -> None:
    """One line of text output, :func:`clean`, then styled (``bold=True``, ``err=True``, …) by click."""
    click.secho(clean(text), **style)


# --------------------------------------------------------------------------- writers


def echo_json(value: Any) -> None:
    """The one JSON writer: :func:`json_data` of ``value``, indented, Chinese as it is."""
    click.echo(json.dumps(json_data(value), ensure_ascii=False, indent=2))


def echo_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """The one CSV writer: a header of ``columns``, then ``rows`` (None is an empty cell, as csv writes it)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)


def console(**kwargs: Any) -> Any:
    """A rich console for tables, leaving a closed pipe the way every other command does (exit 141)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            stop_writing()

    return _Console(**kwargs)


def print_table(renderable: Any, width: int = 120) -> None:
    """The one path to a rich table (or a line in its place): the terminal's width, else ``width``.

    Markup is off: a cell given as a str is shown as written (its values must have been :func:`clean`).
    """
    console(highlight=False, markup=False, width=None if sys.stdout.isatty() else width).print(renderable)


# --------------------------------------------------------------------------- render


def _as_is(result: Any, **context: Any) -> Any:
    return result


@dataclasses.dataclass(frozen=True)
class View:
    """How one kind of result looks. Each function gets the result and the command's ``context``.

    ``text`` writes it for people (a table or lines). ``columns`` (a header, or a function of the result
    when the header depends on it) and ``rows`` make its CSV, if it has one. ``data`` picks what goes to
    JSON (the result itself by default, or an envelope around it), which :func:`json_data` turns into
    ``to_dict()`` data.
    """

    text: Callable[..., None]
    columns: Sequence[str] | Callable[..., Sequence[str]] = ()
    rows: Callable[..., Iterable[Sequence[Any]]] | None = None
    data: Callable[..., Any] = _as_is


def render(result: Any, view: View, fmt: str = TEXT, **context: Any) -> None:
    """Write ``result`` in ``fmt`` (``text``, ``json`` or ``csv``; see :func:`output_format`)."""
    if fmt == JSON:
        echo_json(view.data(result, **context))
    elif fmt == CSV:
        if view.rows is None:
            raise click.UsageError("this command has no CSV output")
        columns = view.columns(result, **context) if callable(view.columns) else view.columns
        echo_csv(columns, view.rows(result, **context))
    else:
        view.text(result, **context)


# --------------------------------------------------------------------------- regions ranked (search, similar)


def _search_rows(result: Any) -> Iterable[list[Any]]:
    for rank, region in enumerate(result.regions, 1):
        for hit in region.hits:
            yield [rank, region.region, region.province, region.score, hit.paragraph_id, hit.document, hit.title,
                   hit.year, hit.section, hit.role, hit.score, hit.similarity, hit.calibrated, hit.text]


def _search_table(result: Any, width: int = 160) -> None:
    from rich.table import Table
    from rich.text import Text

    if not result.regions:
        print_table("No matching regions.")
        return
    table = Table(show_lines=True, title=Text(clean(f"[{result.mode}] {result.query[:60]}")), title_justify="left")
    if result.translated:
        table.caption = Text(clean("translated: " + " ".join(result.translated)), style="dim")
        table.caption_justify = "left"
    for column, kwargs in (("#", {"justify": "right"}), ("region", {}), ("score", {"justify": "right"}),
                           ("year", {}), ("evidence", {"ratio": 1})):
        table.add_column(column, **kwargs)
    for rank, region in enumerate(result.regions, 1):
        evidence = Text(overflow="fold")
        for i, hit in enumerate(region.hits):
            if i:
                evidence.append("\n\n")
            evidence.append(clean(f"§ {hit.section or '(preamble)'}"), style="dim")
            if hit.role != "measure":
                evidence.append(clean(f"  [{hit.role}]"), style="yellow")
            evidence.append("\n")
            evidence.append_text(_hit_text(hit, width))
            evidence.append(clean(f"\nid {hit.paragraph_id}  score {hit.score:.4g}"
                                  + (f"  calibrated {hit.calibrated:.2f}" if hit.calibrated is not None else "")),
                            style="dim")
        province = f"\n{region.province}" if region.province else ""
        year = str(region.hits[0].year or "") if region.hits else ""
        table.add_row(str(rank), Text(clean(f"{region.region}{province}")), f"{region.score:.4g}", clean(year),
                      evidence)
    print_table(table)


def _hit_text(hit: Any, width: int) -> Any:
    """A hit's text (:func:`clean`) cut to ``width`` around its evidence sentence (underlined), query words in bold."""
    from rich.text import Text

    spans = [hit.evidence] if hit.evidence else []
    # A traditional-script report is shown in its own script (same offsets as the simplified text).
    full, spans = _clean_spans(getattr(hit, "original", None) or hit.text, [*spans, *hit.highlights])
    evidence, highlights = (spans[0], spans[1:]) if hit.evidence else (None, spans)
    offset = 0
    if len(full) > width and evidence and evidence[1] > width - 1:
        offset = max(0, evidence[0] - 10)
    body = full[offset : offset + width - 1]
    lead = "…" if offset else ""
    text = Text(lead + body + ("…" if offset + len(body) < len(full) else ""))

    def mark(style: str, start: int, end: int) -> None:
        start, end = max(start - offset, 0), min(end - offset, len(body))
        if start < end:
            text.stylize(style, start + len(lead), end + len(lead))

    if evidence:
        mark("underline", *evidence)
    for start, end in highlights:
        mark("bold magenta", start, end)
    return text


SEARCH = View(
    text=_search_table,
    columns=("rank", "region", "province", "region_score", "paragraph_id", "document", "title", "year", "section",
             "role", "score", "similarity", "calibrated", "text"),
    rows=_search_rows,
)
"""A :class:`~simkit.search.engine.SearchResult`: regions ranked, their best paragraphs as evidence."""


def _show_text(record: Any) -> None:
    echo_line(f"{record.region} · {record.title or record.document} · {record.year or ''}")
    echo_line(f"§ {record.section}")
    echo_line(record.text)


SHOW = View(text=_show_text)
"""A :class:`~simkit.search.engine.ParagraphRecord`."""


def _recommend_text(recommendations: list[Any], region: str) -> None:
    if not recommendations:
        echo_line(f"No measure of {region}'s peers is missing from its reports.")
    for rank, rec in enumerate(recommendations, 1):
        echo_line(f"{rank}. {clean(rec.measure.text)[:80]}", bold=True)
        others = ", ".join(r for r in rec.supporting_regions if r != rec.region)
        echo_line(f"   from {rec.region}; also reported by {others}")
        echo_line(f"   id {rec.measure.paragraph_id}  "
                  f"closest own paragraph: similarity {rec.closest_own_similarity:.3f}")


RECOMMEND = View(text=_recommend_text,
                 data=lambda recommendations, region: RegionRecommendations(region, recommendations))
"""A list of :class:`~simkit.initiatives.peers.Recommendation` for ``region``."""


# --------------------------------------------------------------------------- initiatives (clusters, matrix)


def _changes_text(changes: Any) -> None:
    if changes.previous_version is None:
        return
    merged = "; ".join(f"{', '.join(m['from'])} → {m['into']}" for m in changes.merged)
    echo_line(f"Since version {changes.previous_version}: {len(changes.kept)} kept, "
              f"{len(changes.new)} new ({', '.join(changes.new[:10]) or '-'}), "
              f"merged: {merged or '-'}, vanished: {', '.join(changes.vanished) or '-'}", err=True)


def _clusters_table(result: Any) -> None:
    _changes_text(result.changes)
    if not result.clusters:
        echo_line(f"No initiative found in {result.min_regions} or more regions.")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True)
    for column in ("id", "initiative", "regions (year)", "cohesion", "example"):
        table.add_column(column, ratio=1 if column == "example" else None)
    for c in result.clusters:
        best = next((u for u in c.units if u.paragraph_id == c.representative), c.units[0])
        regions = "\n".join(f"{r} {c.years.get(r) or ''}" + (" (plan)" if c.region_status.get(r) == "planned" else "")
                            for r in c.regions)
        text = clean(best.sentence or best.text)  # the sentence in the initiative, at the sentence grain
        example = text if len(text) <= 120 else text[:119] + "…"
        table.add_row(clean(c.id), Text(clean(f"{c.label}\n{' · '.join(c.keywords)}")), clean(regions),
                      f"{c.cohesion:.3f}",
                      Text(clean(f"{example}\n{best.region} · {best.paragraph_id}"), overflow="fold"))
    print_table(table)


def _clusters_rows(result: Any) -> Iterable[list[Any]]:
    for c in result.clusters:
        for u in c.units:
            yield [c.id, c.label, " ".join(c.keywords), c.cohesion, u.region, u.year or "", u.role, u.paragraph_id,
                   u.text]


CLUSTERS = View(
    text=_clusters_table,
    columns=("cluster", "label", "keywords", "cohesion", "region", "year", "role", "paragraph_id", "text"),
    rows=_clusters_rows,
)
"""A :class:`~simkit.initiatives.clustering.ClusterSet`, one CSV row per member unit."""


def _matrix_cells(matrix: dict[str, Any]) -> Callable[[str, str], str]:
    """A cell's text: the years the region's report covers the initiative, ``plan`` if only planned."""
    cells = {(c["region"], c["initiative"]): c for c in matrix["cells"]}

    def cell(region: str, initiative: str) -> str:
        found = cells.get((region, initiative))
        if found is None:
            return ""
        years = ";".join(str(y) for y in found["years"]) or "?"
        return years + (" plan" if found["status"] == "planned" else "")

    return cell


def _matrix_rows(matrix: dict[str, Any]) -> Iterable[list[str]]:
    cell = _matrix_cells(matrix)
    for region in matrix["regions"]:
        yield [region, *(cell(region, i["id"]) for i in matrix["initiatives"])]


def _matrix_table(matrix: dict[str, Any]) -> None:
    from rich.cells import cell_len
    from rich.table import Table

    table = Table(title="region × initiative (year the region's report covers it; plan = only planned)")
    table.add_column("region")
    needed = 16 + max((cell_len(r) for r in matrix["regions"]), default=0)
    for i in matrix["initiatives"]:
        label = clean(i["label"])[:12]
        needed += max(cell_len(label), len(i["id"]), 6) + 3
        table.add_column(clean(f"{i['id']}\n{label}"), justify="center")
    for row in _matrix_rows(matrix):
        table.add_row(*(clean(cell) for cell in row))
    print_table(table, width=max(160, needed))  # not on a terminal: as wide as the labels need, never cut


def _matrix_columns(matrix: dict[str, Any]) -> list[str]:
    return ["region", *(f"{i['id']} {i['label']}" for i in matrix["initiatives"])]


MATRIX = View(text=_matrix_table, columns=_matrix_columns, rows=_matrix_rows)
"""The region × initiative table of :func:`~simkit.initiatives.views.region_matrix` (JSON data already)."""


def _missing_text(missing: list[Any], region: str) -> None:
    if not missing:
        echo_line(f"No initiative of {region}'s peers is missing from its reports.")
    for rank, m in enumerate(missing, 1):
        echo_line(f"{rank}. {m.initiative.id} {m.initiative.label}", bold=True)
        echo_line(f"   peers with it: {', '.join(m.peers)}; since {m.initiative.first_year or '?'}")


def _missing_rows(missing: list[Any], region: str) -> Iterable[list[Any]]:
    for m in missing:
        i = m.initiative
        yield [i.id, i.label, ";".join(m.peers), ";".join(i.regions), i.first_year or "", m.relevance]


MISSING = View(
    text=_missing_text,
    columns=("id", "label", "peers", "regions", "first_year", "relevance"),
    rows=_missing_rows,
    data=lambda missing, region: RegionMissing(region, missing),
)
"""A list of :class:`~simkit.initiatives.clustering.MissingInitiative` for ``region``."""


# --------------------------------------------------------------------------- index (build, rebuild, versions, info)


def _build_text(result: Any, target: Any) -> None:
    for warning in result.warnings:
        warn(clean(warning))
    where = result.embedded_on
    ray = f", {ray_summary(where)}" if where else ""
    echo_line(f"Indexed {result.documents} reports, {result.units} paragraphs into {target} "
              f"(version {result.version}, model {result.model}{ray}, {result.seconds['total']:.1f} s).")


BUILD = View(text=_build_text)
"""A :class:`~simkit.pipeline.build.BuildResult` (the index directory as ``target``)."""


def ray_summary(where: dict[str, Any]) -> str:
    """Where units were embedded, from a version's ``embedded_on``: "embedded on Ray at ADDRESS by N workers"."""
    workers = int(where.get("workers") or 0)
    return f"embedded on Ray at {where.get('address')} by {workers} worker{'' if workers == 1 else 's'}"


def rebuild_summary(report: dict[str, Any]) -> str:
    """One line of what a rebuild did, from its report's data (``RebuildResult.to_dict()``, or the
    ``last_rebuild`` of ``simkit info``)."""
    docs, units = report.get("documents", {}), report.get("units", {})
    text = (f"version {report.get('version')}; reports +{docs.get('added', 0)} added, ~{docs.get('changed', 0)} "
            f"changed, -{docs.get('removed', 0)} removed, {docs.get('unchanged', 0)} unchanged"
            + (f", {docs['kept']} kept" if docs.get("kept") else "")
            + f"; units {units.get('embedded', 0)} embedded, {units.get('reused', 0)} reused"
            + (f" (sentences {sentences.get('embedded', 0)} embedded, {sentences.get('reused', 0)} reused)"
               if (sentences := report.get("sentences") or {}) else "")
            + (f" (latent terms {latent.get('embedded', 0)} computed, {latent.get('reused', 0)} reused)"
               if (latent := report.get("latent_terms") or {}).get("total") else "")
            + (f" ({ray_summary(where)})" if (where := report.get("embedded_on")) else "")
            + f"; {report.get('seconds', {}).get('total', 0):.1f} s")
    return text + (f"; {report['error']}" if report.get("error") else "")


def _rebuild_text(report: Any, target: Any) -> None:
    for warning in report.warnings:
        warn(clean(warning))
    for skipped in report.skipped:
        warn(clean(f"skipped {skipped.reason}"))
    if report.status == "unchanged":
        echo_line(f"Nothing changed; version {report.version} keeps serving {target}.")
    else:
        echo_line(f"Published {rebuild_summary(report.to_dict())}.")


REBUILD = View(text=_rebuild_text)
"""A :class:`~simkit.pipeline.rebuild.RebuildResult` (the index directory as ``target``)."""


def _versions_text(versions: list[Any]) -> None:
    for v in versions:
        mark = "*" if v.current else " "
        if v.problem:
            echo_line(f"{mark} {v.name}  damaged: {v.problem}")
        else:
            echo_line(f"{mark} {v.name}  {v.created_at}  {v.model}  {v.documents} reports  {v.units} units")


VERSIONS = View(text=_versions_text)
"""A list of :class:`~simkit.pipeline.versions.VersionInfo`, oldest first."""


def _verify_text(checks: list[Any]) -> None:
    for c in checks:
        mark = "*" if c.current else " "
        state = f"damaged: {c.problem}" if c.problem else "ok"
        echo_line(f"{mark} {c.name}  {c.files} files  {c.bytes / 2**20:.1f} MiB  {c.seconds:.1f} s  {state}")


VERIFY = View(text=_verify_text)
"""A list of :class:`~simkit.pipeline.versions.VersionCheck`, oldest first."""


def _info_text(data: dict[str, Any]) -> None:
    echo_line(f"index    {data['index']}  (version {data['version']}, created {data['created_at']})")
    echo_line(f"model    {data['model']['name']}  dim {data['model']['dimension']}")
    counts = data["counts"]
    echo_line(f"counts   {counts['documents']} reports, {counts['units']} indexed paragraphs "
              f"({counts['paragraphs']} with headings and fragments)")
    last = data["last_rebuild"]
    if last:
        echo_line(f"rebuild  {last.get('started_at')} {last.get('status')}: {rebuild_summary(last)}")
    needs = []
    for doc in data["documents"]:
        shown = doc.get("reporter") or doc["region"] or "unknown"
        kind = f" [{doc['report_kind']}]" if doc.get("report_kind") not in (None, "report") else ""
        echo_line(f"  {doc['id']:<20} {shown:<10} {doc['year'] or '':<6} {doc['title'] or ''}{kind}")
        if not doc["region"]:
            candidates = doc.get("region_candidates") or []
            needs.append(f"  {doc['path']}" + (f"  (ambiguous: {', '.join(candidates)})" if candidates else ""))
    if needs:
        echo_line(f"region unknown for {len(needs)} report(s); give it with --region or --metadata when rebuilding:")
        for line in needs:
            echo_line(line)


INFO = View(text=_info_text)
"""``SimkitIndex.info().to_dict()`` (with the index's ``last_rebuild`` report)."""


# --------------------------------------------------------------------------- reading (parse)


def parsed_data(parsed: Any, judged: bool) -> dict[str, Any]:
    """``simkit parse --json``: the report's and its paragraphs' ``to_dict()``, each paragraph with its
    formula spans (offsets into the report's text), and whether boilerplate was judged against an index.

    A stand-in for a proposed ``ParsedReport.to_dict()`` (document, paragraphs with formula_spans)."""
    return {"document": parsed.report.to_dict(),
            "boilerplate_judged": judged,
            "paragraphs": [p.to_dict() | {"formula_spans": [list(span) for span in parsed.formula_spans_in(p)]}
                           for p in parsed.paragraphs]}


def _parse_text(parsed: Any, judged: bool, show_all: bool, width: int) -> None:
    r = parsed.report

    def shown(value: object) -> str:
        return "—" if value is None else str(value)

    echo_line(f"title     {r.title or '— (no title line in the file)'}")
    echo_line(f"region    {r.region or 'unknown'}  province {shown(r.province)}  city {shown(r.city)}  "
              f"adcode {shown(r.adcode)}  year {shown(r.year)}")
    echo_line(f"issuer    {shown(r.issuer)}  kind {shown(r.issuer_kind)}"
              + (f"  department {r.department}" if r.department else "")
              + f"  to {shown(r.addressee)}  number {shown(r.doc_number)}")
    echo_line(f"published {shown(r.published)}  source {shown(r.source)}  index {shown(r.index_number)}  "
              f"kind {r.report_kind}  format {r.source_format}" + (f"  script {r.script}" if r.script else ""))
    echo_line(f"shown as  {r.reporter}" + (f"  (region from {r.region_source})" if r.region_source else ""))
    if r.region is None:
        why = f"ambiguous: {', '.join(r.region_candidates)}" if r.region_candidates else "not found in the text"
        echo_line(f"warning   region {why}; give it with --region or --metadata")
    if not judged:
        echo_line("(boilerplate not judged: no index to compare with; pass --index)")
    printed: list[str] = []
    for p in parsed.paragraphs:
        if p.kind in ("heading", "fragment") and not show_all:
            continue
        path = p.section.split(" > ") if p.section else []
        common = 0
        while common < min(len(path), len(printed)) and path[common] == printed[common]:
            common += 1
        for depth in range(common, len(path)):
            click.echo("  " * depth + click.style(clean(path[depth]), bold=True))
        printed = path
        depth = len(path) + (1 if p.kind == "measure" else 0)
        flag = "B" if p.boilerplate else "b" if parsed.formula_spans_in(p) else " "
        text = clean(r.original_text[p.start:p.end] if r.original_text else p.text)
        preview = text if len(text) <= width else text[: width - 1] + "…"
        echo_line(f"{'  ' * depth}[{p.kind[:4]} {p.role[:4]} {flag}] {preview}")


PARSE = View(text=_parse_text, data=lambda parsed, judged, **_: parsed_data(parsed, judged))
"""A :class:`~simkit.reading.records.ParsedReport` as an outline tree (``judged``: boilerplate was
judged against an index; ``show_all``: headings and fragments too; ``width``: characters shown)."""


# --------------------------------------------------------------------------- eval


_EVAL_FIGURES = "{group:<5} {n:>3} {ndcg:>8} {recall:>7} {top1:>6} {evid:>6} {hardneg:>7}"


def _eval_header(k: int) -> str:
    return _EVAL_FIGURES.format(group="group", n="n", ndcg=f"nDCG@{k}", recall=f"R2@{k}", top1="top1", evid="evid",
                                hardneg="hardneg")


def _eval_figures(group: str, row: dict[str, Any]) -> str:
    """One group's figures (a :func:`simkit.evaluation.queries.summarize` row) as a table line."""
    top1 = "-" if row["single_top1"] is None else f"{row['single_top1']:.2f}"
    return _EVAL_FIGURES.format(group=group, n=row["queries"], ndcg=f"{row['ndcg']:.3f}",
                                recall=f"{row['recall_grade2']:.3f}", top1=top1, evid=f"{row['evidence']:.3f}",
                                hardneg=row["hard_negative_violations"])


def _eval_text(reports: list[Any], k: int) -> None:
    echo_line(f"{'mode':<8} {'bp':<3} " + _eval_header(k))
    for report in reports:
        for name, row in report.summary.items():
            boilerplate = "on" if report.include_boilerplate else "off"
            echo_line(f"{report.mode:<8} {boilerplate:<3} " + _eval_figures(name, row))


def _eval_similar_text(reports: list[Any], k: int) -> None:
    echo_line(f"{'mode':<8} {'sources':>7} {'nDCG@' + str(k):>8} {'top1':>6} {'evid':>6}")
    for r in reports:
        echo_line(f"{r.mode:<8} {r.sources:>7} {r.ndcg:>8.3f} {r.top1_relevant:>6.3f} {r.evidence:>6.3f}")


def _eval_folds_text(report: Any, k: int) -> None:
    echo_line(f"{report.folds}-fold cross-validation over {len(report.queries)} queries, "
              f"{report.candidates} candidate settings; held-out figures")
    echo_line(f"{'figures':<17} " + _eval_header(k))
    rows = [(f"{mode} (held out)" if mode != "lexical" else "lexical", summary)
            for mode, summary in report.summary.items()]
    rows.append(("hybrid (shipped)", report.default))
    for label, summary in rows:
        for name, row in summary.items():
            echo_line(f"{label:<17} " + _eval_figures(name, row))
    echo_line("chosen on all queries: " + ", ".join(f"{name}={value}" for name, value in report.chosen.items()))


def _figures_line(label: str, figures: dict[str, Any]) -> str:
    extra = f"  median regions {figures['median_regions']:g}" if "median_regions" in figures else ""
    return (f"{label:<24} recall {figures.get('region_recall', 0):.3f}  recall (unit match) "
            f"{figures.get('region_recall_unit_match', 0):.3f}  precision {figures.get('region_precision', 0):.3f}"
            f"  F1 {figures.get('f1', 0):.3f}{extra}")


def _eval_initiative_folds_text(report: Any) -> None:
    echo_line(f"{report.folds}-fold cross-validation over {report.initiatives} labelled initiatives, "
              f"{report.candidates} candidate constants ({report.eligible} eligible); chosen by {report.objective}")
    echo_line(_figures_line("held out", report.held_out))
    echo_line(_figures_line("shipped (sentences)", report.shipped))
    echo_line(_figures_line("unit grain (before)", report.unit_baseline))
    echo_line("chosen on all: " + ", ".join(f"{name}={value}" for name, value in report.chosen_on_all.items()))


def _eval_initiatives_text(report: Any) -> None:
    echo_line(f"{report.initiatives} labelled initiatives")
    for label, figures in (("shipped (sentences)", report.shipped), ("unit grain (before)", report.unit_baseline)):
        echo_line(_figures_line(label, figures) + f"  initiatives {figures['clusters']}  formula "
                  f"{len(figures['boilerplate_initiatives'])}")
    names = report.names
    echo_line(f"named by a shared phrase: {names['named_by_shared_phrase']} of {names['initiatives']} "
              f"({names['share']:.0%}); duplicate names: {len(names['duplicates'])}")


def _one_or_all(reports: list[Any], compare: bool, **_: Any) -> Any:
    return reports if compare else reports[0]


EVAL = View(text=lambda reports, k, **_: _eval_text(reports, k), data=_one_or_all)
"""The :class:`~simkit.evaluation.queries.EvalResult` of each setting (``compare``: a JSON list of them)."""

EVAL_FOLDS = View(text=lambda report, k, **_: _eval_folds_text(report, k))
"""A :class:`~simkit.evaluation.crossval.CrossValidation`: held-out figures per mode, the shipped constants' figures
and the constants chosen on every query."""

EVAL_INITIATIVES = View(text=lambda report, **_: _eval_initiatives_text(report))
"""An :class:`~simkit.evaluation.clusters.InitiativeEvaluation`: the shipped clustering and the unit-grain baseline
scored on labelled initiatives, and how the initiatives are named."""

EVAL_INITIATIVE_FOLDS = View(text=lambda report, **_: _eval_initiative_folds_text(report))
"""A :class:`~simkit.evaluation.clusters.ClusterCrossValidation`: held-out figures beside the shipped constants'."""

EVAL_SIMILAR = View(text=lambda reports, k, **_: _eval_similar_text(reports, k), data=_one_or_all)
"""The :class:`~simkit.evaluation.queries.SimilarEvalResult` of each mode (``compare``: a JSON list of them)."""
