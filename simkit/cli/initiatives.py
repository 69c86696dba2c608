"""Recurring initiatives: ``clusters``, ``matrix`` (and what a region's peers do that it does not), ``report``."""

from __future__ import annotations

import click

import simkit
from simkit.cli import render
from simkit.cli.options import (
    index_option,
    min_regions_option,
    out_option,
    output_options,
    output_to,
    peer_options,
    written_through,
)


@click.command()
@index_option
@min_regions_option
@click.option("--matrix", "as_matrix", is_flag=True, help="Print the region × initiative table instead.")
@output_options
def clusters(index_dir: str | None, min_regions: int, as_matrix: bool, as_json: bool, as_csv: bool) -> None:
    """Recurring initiatives: measures of different reports grouped by what they do."""
    from simkit.initiatives.views import region_matrix

    fmt = render.output_format(as_json, as_csv)
    with simkit.open_index(index_dir) as index:
        result = index.clusters(min_regions=min_regions)
    if as_matrix:
        render.render(region_matrix(result).to_dict(), render.MATRIX, fmt)
    else:
        render.render(result, render.CLUSTERS, fmt)


@click.command()
@index_option
@min_regions_option
@click.option("--missing", "missing_for", default=None, metavar="REGION",
              help="List the initiatives REGION's closest peers have and it has not.")
@peer_options
@output_options
def matrix(index_dir: str | None, min_regions: int, missing_for: str | None, peers: int, min_support: int,
           as_json: bool, as_csv: bool) -> None:
    """Region × initiative table with years (or, with --missing, what a region's peers do and it does not)."""
    fmt = render.output_format(as_json, as_csv)
    with simkit.open_index(index_dir) as index:
        if missing_for is None:
            render.render(index.region_matrix(min_regions=min_regions).to_dict(), render.MATRIX, fmt)
            return
        missing = index.missing_initiatives(missing_for, peers=peers, min_support=min_support,
                                            min_regions=min_regions)
    render.render(missing, render.MISSING, fmt, region=missing_for)


@click.command()
@index_option
@min_regions_option
@out_option("HTML file to write.")
def report(index_dir: str | None, min_regions: int, out: str) -> None:
    """Write a self-contained HTML page of the recurring initiatives (heatmap, cards, adoption, map)."""
    from simkit.initiatives.html_report import write_report

    with simkit.open_index(index_dir) as index:
        write_report(index.initiatives, output_to(out), min_regions=min_regions)
    click.echo(f"Wrote {'the page to stdout' if out == '-' else out}", err=written_through(out))


COMMANDS = [clusters, matrix, report]
