"""``simkit eval``: retrieval quality on a labeled query file, or (``--initiatives``) clustering quality."""

from __future__ import annotations

from pathlib import Path

import click

import simkit
from simkit.cli import render
from simkit.cli.options import index_option, json_option, mode_option
from simkit.cli.progress import progress_factory


@click.command("eval")
@click.argument("queries", metavar="FILE...", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@index_option
@click.option("--initiatives", "initiatives", is_flag=True,
              help="The FILEs are labelled initiatives: measure the clustering of initiatives instead of search "
                   "(region recall of the best-matching initiative, formula, names; with --folds, constants "
                   "chosen on the other folds).")
@click.option("--boilerplate", "boilerplate", multiple=True, type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="With --initiatives: labelled formula passages that must form no initiative "
                                   "(repeatable).")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1), help="Cut-off for the metrics.")
@mode_option("Search mode to evaluate [default: hybrid].")
@click.option("--include-boilerplate", is_flag=True, help="Evaluate with boilerplate passages searchable.")
@click.option("--compare", is_flag=True, help="Evaluate every mode, with and without boilerplate.")
@click.option("--similar", "by_example", is_flag=True,
              help="Evaluate `simkit similar` instead: each grade-2 evidence paragraph as the source.")
@click.option("--folds", type=click.IntRange(2), default=None,
              help="Cross-validate: choose the search constants on all folds but one, score the one left out; "
                   "report the pooled held-out figures (hybrid, dense) beside lexical and the shipped constants.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@json_option
def eval_command(queries: tuple[str, ...], index_dir: str | None, initiatives: bool, boilerplate: tuple[str, ...],
                 k: int, mode: str | None, include_boilerplate: bool, compare: bool, by_example: bool,
                 folds: int | None, quiet: bool, as_json: bool) -> None:
    """Measure retrieval (region nDCG@k, recall, evidence) or, with --initiatives, the clustering's quality.

    Retrieval: labeled query files (region nDCG@k, recall, evidence, hard negatives). Several files are
    pooled into one set (e.g. the dev set and a set of your own for --folds). With --initiatives the files
    hold labelled initiatives and the clustering is measured instead.
    """
    from simkit.evaluation.queries import evaluate, evaluate_similar, load_queries
    from simkit.search.engine import MODES

    fmt = render.output_format(as_json)
    if initiatives:
        if by_example or compare or mode is not None or include_boilerplate:
            raise click.UsageError("--initiatives measures the clustering; it does not combine with --similar, "
                                   "--compare, --mode or --include-boilerplate")
        _eval_initiatives(queries, boilerplate, index_dir, folds, fmt)
        return
    if boilerplate:
        raise click.UsageError("--boilerplate goes with --initiatives")
    labeled = [query for path in queries for query in load_queries(Path(path))]
    if folds is not None and (by_example or compare):
        raise click.UsageError("--folds cross-validates search; it does not combine with --similar or --compare")
    with simkit.open_index(index_dir) as index:
        if folds is not None:
            from simkit.evaluation.crossval import cross_validate

            report = cross_validate(index, labeled, folds=folds, k=k, include_boilerplate=include_boilerplate,
                                    progress=progress_factory(quiet or as_json))
            render.render(report, render.EVAL_FOLDS, fmt, k=k)
            return
        if by_example:
            reports = [evaluate_similar(index, labeled, k=k, mode=m, include_boilerplate=include_boilerplate)
                       for m in (MODES if compare else (mode,))]
        else:
            settings = [(m, b) for m in MODES for b in (False, True)] if compare else [(mode, include_boilerplate)]
            reports = [evaluate(index, labeled, k=k, mode=m, include_boilerplate=b) for m, b in settings]
    render.render(reports, render.EVAL_SIMILAR if by_example else render.EVAL, fmt, k=k, compare=compare)


def _eval_initiatives(files: tuple[str, ...], boilerplate: tuple[str, ...], index_dir: str | None,
                      folds: int | None, fmt: str) -> None:
    from simkit.evaluation.clusters import (
        cross_validate_clusters,
        evaluate_initiatives,
        load_boilerplate,
        load_initiatives,
    )
    from simkit.initiatives.units import SentenceTable, UnitTable

    labelled = load_initiatives([Path(f) for f in files])
    formula = load_boilerplate([Path(f) for f in boilerplate])
    with simkit.open_index(index_dir) as index:
        units, sentences = UnitTable.from_parts(index.parts), SentenceTable.from_parts(index.parts)
    if folds is not None:
        render.render(cross_validate_clusters(units, sentences, labelled, folds=folds), render.EVAL_INITIATIVE_FOLDS,
                      fmt)
    else:
        render.render(evaluate_initiatives(units, sentences, labelled, formula), render.EVAL_INITIATIVES, fmt)


COMMANDS = [eval_command]
