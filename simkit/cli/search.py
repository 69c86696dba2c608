"""Finding regions: ``search`` (by text), ``similar`` (by a stored paragraph), ``show``, ``recommend``."""

from __future__ import annotations

from typing import Any

import click

import simkit
from simkit.arguments import regions_k
from simkit.cli import render
from simkit.cli.errors import warn
from simkit.cli.options import (
    filter_options,
    filters_from,
    index_option,
    json_option,
    mode_option,
    output_options,
    peer_options,
    result_options,
)


def _checked_filters(index: Any, values: dict[str, Any]) -> Any:
    """The filters of the options given, with a warning for each region or province the index lacks."""
    from simkit.search.filters import unknown_names

    filters = filters_from(values)
    for name in unknown_names(index.store, filters):
        warn(f"no report from {name} in {index.root}; that filter matches nothing")
    return filters


@click.command()
@click.argument("text", required=False)
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False),
              help="Use a file's text as the query (a measure description or a report section).")
@index_option
@mode_option("Dense (multilingual model), lexical (BM25 over Chinese words) or hybrid [default: hybrid].")
@result_options
@filter_options
@click.option("--model", default=None, help="Check that the index was built with this model.")
@output_options
def search(text: str | None, from_file: str | None, index_dir: str | None, mode: str | None, k: int | None,
           hits: int, threshold: float | None, model: str | None, as_json: bool, as_csv: bool,
           **filter_values: Any) -> None:
    """Regions whose reports hold paragraphs most similar to TEXT (Chinese or English)."""
    if (text is None) == (from_file is None):
        raise click.UsageError("give either TEXT or --from-file FILE")
    if from_file is not None:
        from simkit.reading.parse import normalize_query
        from simkit.reading.readers import read_document

        text = normalize_query(read_document(from_file).text)
    with simkit.open_index(index_dir, model=model) as index:
        filters = _checked_filters(index, filter_values)
        result = index.search(text or "", k=regions_k(k, threshold), hits=hits, mode=mode, filters=filters,
                              threshold=threshold)
        render.render(result, render.SEARCH, render.output_format(as_json, as_csv))


@click.command()
@click.argument("paragraph_id")
@index_option
@mode_option("How the paragraph's text is matched, as in `simkit search` [default: hybrid].")
@result_options
@filter_options
@click.option("--include-same-region", is_flag=True, help="Also show the paragraph's own region.")
@output_options
def similar(paragraph_id: str, index_dir: str | None, mode: str | None, k: int | None, hits: int,
            threshold: float | None, include_same_region: bool, as_json: bool, as_csv: bool,
            **filter_values: Any) -> None:
    """Other regions' paragraphs most similar to the stored paragraph PARAGRAPH_ID."""
    with simkit.open_index(index_dir) as index:
        filters = _checked_filters(index, filter_values)
        result = index.similar(paragraph_id, k=regions_k(k, threshold), hits=hits,
                               exclude_same_region=not include_same_region, mode=mode, filters=filters,
                               threshold=threshold)
        render.render(result, render.SEARCH, render.output_format(as_json, as_csv))


@click.command()
@click.argument("paragraph_id")
@index_option
@json_option
def show(paragraph_id: str, index_dir: str | None, as_json: bool) -> None:
    """Print one stored paragraph with its report's metadata."""
    with simkit.open_index(index_dir) as index:
        record = index.paragraph(paragraph_id)
    render.render(record, render.SHOW, render.output_format(as_json))


@click.command()
@click.argument("region")
@index_option
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1), help="Number of measures.")
@peer_options
@json_option
def recommend(region: str, index_dir: str | None, k: int, peers: int, min_support: int, as_json: bool) -> None:
    """Measures that REGION's most similar regions reported and REGION has not."""
    with simkit.open_index(index_dir) as index:
        recommendations = index.recommend_for_region(region, k, peers=peers, min_support=min_support)
    render.render(recommendations, render.RECOMMEND, render.output_format(as_json), region=region)


COMMANDS = [search, similar, show, recommend]
