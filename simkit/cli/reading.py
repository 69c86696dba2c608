"""Reading reports: ``simkit parse`` (how one file is read) and ``simkit ingest`` (units as JSON lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import simkit
from simkit.cli import render
from simkit.cli.options import json_option, metadata_option, out_option, output_to, region_option, written_through


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


@click.command()
@click.argument("file", type=click.Path())
@click.option("--region", default=None, help="Region of the report (overrides detection).")
@click.option("--index", "index_dir", envvar="SIMKIT_INDEX", type=click.Path(file_okay=False), default=None,
              help="Judge boilerplate against this index's corpus [default: indexes/default if it exists].")
@click.option("--all", "show_all", is_flag=True, help="Also list headings and short fragments.")
@click.option("--width", default=40, show_default=True, type=click.IntRange(10), help="Characters of text shown.")
@json_option
def parse(file: str, region: str | None, index_dir: str | None, show_all: bool, width: int, as_json: bool) -> None:
    """Show how a report file is read: metadata and its outline as a tree of units.

    Each line shows the unit's kind, role (measure/plan/problem/leadership/overview),
    B where it is boilerplate (left out of search), b where it holds formula passages but is
    not boilerplate, and its first characters. --json gives every unit's formula spans as offsets.
    """
    from simkit.reading.boilerplate import flag_report

    parsed = simkit.parse_report(Path(file), region=region)
    stats = _phrase_stats(index_dir)
    if stats is not None:
        parsed = flag_report(parsed, stats)
    render.render(parsed, render.PARSE, render.output_format(as_json), judged=stats is not None, show_all=show_all,
                  width=width)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@out_option("JSONL file to write.")
@region_option
@metadata_option
@click.option("--skip-bad", is_flag=True, help="Continue past unreadable files and list them at the end.")
def ingest(paths: tuple[str, ...], out: str, region: str | None, metadata: str | None, skip_bad: bool) -> None:
    """Read reports (PATHS: files or folders) and write their units as JSON lines to --out.

    One line per paragraph, measure and parent paragraph, with the report's metadata.
    Without --skip-bad the first unreadable file stops the run and nothing is written.
    """
    from simkit.pipeline.ingest import write_units_jsonl

    result = write_units_jsonl(paths, output_to(out), region=region, skip_bad=skip_bad, metadata=metadata)
    click.echo(f"Wrote {result.units} units of {result.documents} reports to {'stdout' if out == '-' else out}.",
               err=written_through(out))
    for skipped in result.skipped:
        click.echo(f"Skipped: {skipped.reason}", err=True)


COMMANDS = [parse, ingest]
