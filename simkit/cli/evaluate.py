"""``simkit eval``: retrieval quality on a labeled query file."""

from __future__ import annotations

from pathlib import Path

import click

import simkit
from simkit.cli import render
from simkit.cli.options import index_option, json_option, mode_option


@click.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False))
@index_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1), help="Cut-off for the metrics.")
@mode_option("Search mode to evaluate [default: hybrid].")
@click.option("--include-boilerplate", is_flag=True, help="Evaluate with boilerplate passages searchable.")
@click.option("--compare", is_flag=True, help="Evaluate every mode, with and without boilerplate.")
@click.option("--similar", "by_example", is_flag=True,
              help="Evaluate `simkit similar` instead: each grade-2 evidence paragraph as the source.")
@json_option
def eval_command(queries: str, index_dir: str | None, k: int, mode: str | None, include_boilerplate: bool,
                 compare: bool, by_example: bool, as_json: bool) -> None:
    """Measure retrieval quality on a labeled query file (region nDCG@k, recall, evidence, hard negatives)."""
    from simkit.evaluation.queries import evaluate, evaluate_similar, load_queries
    from simkit.search.engine import MODES

    fmt = render.output_format(as_json)
    labeled = load_queries(Path(queries))
    with simkit.open_index(index_dir) as index:
        if by_example:
            reports = [evaluate_similar(index, labeled, k=k, mode=m, include_boilerplate=include_boilerplate)
                       for m in (MODES if compare else (mode,))]
        else:
            settings = [(m, b) for m in MODES for b in (False, True)] if compare else [(mode, include_boilerplate)]
            reports = [evaluate(index, labeled, k=k, mode=m, include_boilerplate=b) for m, b in settings]
    render.render(reports, render.EVAL_SIMILAR if by_example else render.EVAL, fmt, k=k, compare=compare)


COMMANDS = [eval_command]
