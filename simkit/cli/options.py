"""Options shared by several commands, as decorators (the way sqlite-utils and llm share theirs).

An option used by one command only stays with that command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

MODES = ("dense", "lexical", "hybrid")  # simkit.search.engine.MODES, without importing the engine
ROLES = ("measure", "plan", "problem", "leadership", "overview")
ISSUER_KINDS = ("government", "department", "party-government")  # simkit.reading.issuers.ISSUER_KINDS
REPORT_KINDS = ("report", "interpretation", "plan", "other")  # simkit.reading.records.REPORT_KINDS


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    """Apply options so that they are listed in ``--help`` in the order given."""
    for option in reversed(options):
        func = option(func)
    return func


def index_option(func: F) -> F:
    """--index (or $SIMKIT_INDEX): the index directory a command reads or writes."""
    return click.option(
        "--index", "index_dir", envvar="SIMKIT_INDEX", type=click.Path(file_okay=False),
        default=None, show_envvar=True,
        help="Index directory [default: indexes/default].",
    )(func)


RUNTIMES = ("onnx-fp32", "onnx-int8", "torch")  # simkit.embedding.runtime.RUNTIMES, without importing it


def runtime_option(func: F) -> F:
    """--runtime (or $SIMKIT_RUNTIME): the bulk runtime that encodes units at build time."""
    return click.option(
        "--runtime", type=click.Choice(RUNTIMES), envvar="SIMKIT_RUNTIME", show_envvar=True, default=None,
        help="Bulk runtime for the encoder: onnx-fp32 (float32 on ONNX Runtime), onnx-int8 (int8 matrix "
             "products: faster, slightly different vectors) or torch (SIMKIT_DEVICE=cuda for a GPU) "
             "[default: onnx-fp32; rebuild: the current version's].",
    )(func)


def json_option(func: F) -> F:
    """--json, for commands whose text output is lines rather than a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def output_options(func: F) -> F:
    """--json / --csv; the default is a table for people. See :func:`simkit.cli.render.output_format`."""
    return _apply(func, [
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
        click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per paragraph."),
    ])


def mode_option(help: str) -> Callable[[F], F]:
    """--mode, with the help text of the command using it."""
    return click.option("--mode", type=click.Choice(MODES), default=None, help=help)


def region_option(func: F) -> F:
    """--region for commands that read report files: one region for every report given."""
    return click.option("--region", default=None, help="Region of every report given (overrides detection).")(func)


def metadata_option(func: F) -> F:
    """--metadata FILE: a CSV of what is known of the reports, overriding what is read from their text."""
    return click.option(
        "--metadata", "metadata", type=click.Path(dir_okay=False), default=None,
        help="CSV of what is known of the reports (columns: file, and any of region or adcode, year, issuer, "
             "issuer_kind, department, url, published, title, report_kind, source); it overrides what is read "
             "from the text, as a NAME.json beside a report does. See docs/reading.md.",
    )(func)


def ray_options(func: F) -> F:
    """--ray ADDRESS (or $SIMKIT_RAY) and --ray-workers N: the embedding stage on a Ray cluster (docs/ray.md)."""
    return _apply(func, [
        click.option("--ray", "ray", metavar="ADDRESS", envvar="SIMKIT_RAY", default=None, show_envvar=True,
                     help="Embed on a Ray cluster: its head's HOST:PORT (`ray start --head`), auto (the cluster "
                          "this machine joined, or $RAY_ADDRESS) or local (a Ray instance started for this "
                          "command). Reading, writing and publishing stay here. Needs pip install 'simkit[ray]' "
                          "and the model on every node; see docs/ray.md."),
        click.option("--ray-workers", "ray_workers", type=click.IntRange(1), default=None, metavar="N",
                     help="Ray workers, each loading the model once [default: the cluster's CPUs / 2]."),
    ])


def out_option(help: str) -> Callable[[F], F]:
    """--out FILE (required), with the help text of the command using it; ``-`` is stdout (see :func:`output_to`).

    A regular file (or one a symbolic link names) is replaced atomically; a device, FIFO or
    /dev/stdout is written through, never replaced (:func:`simkit.fileio.atomic_writer`).
    """
    return click.option("--out", "out", required=True, type=click.Path(dir_okay=False, allow_dash=True),
                        help=help + " A file is replaced whole; a device or FIFO is written through; - is stdout.")


def output_to(out: str) -> Any:
    """What a library writer is given for --out: the path, or the stdout stream for ``-``."""
    import sys
    from pathlib import Path

    return sys.stdout if out == "-" else Path(out)


def written_through(out: str) -> bool:
    """Whether --out is stdout, a device, a FIFO or /dev/stdout rather than a file: a command's summary line
    then goes to stderr, so that it never mixes with the data (``--out /dev/stdout > units.jsonl``)."""
    from simkit.fileio import write_target

    try:
        return out == "-" or not write_target(out)[1]
    except OSError:  # a link loop: writing fails and says so
        return False


def filter_options(func: F) -> F:
    """Filters applied inside the search, shared by search and similar; see :func:`filters_from`."""
    return _apply(func, [
        click.option("--province", multiple=True, help="Only reports of this province (福建 or 福建省); repeatable."),
        click.option("--region", multiple=True,
                     help="Only reports of this region (石狮市; its departments' reports too), or of a name as "
                          "results show it (深圳市 · 交通运输局); unknown: reports whose region is unknown. "
                          "Repeatable."),
        click.option("--exclude-region", multiple=True, help="Leave out this region (or unknown); repeatable."),
        click.option("--year", multiple=True, type=int, help="Only reports covering this year; repeatable."),
        click.option("--since", type=int, default=None, help="Only reports covering this year or later."),
        click.option("--until", type=int, default=None, help="Only reports covering this year or earlier."),
        click.option("--adcode", default=None, help="Only regions whose admin code starts with this (3505)."),
        click.option("--issuer-kind", "issuer_kind", multiple=True, type=click.Choice(ISSUER_KINDS),
                     help="Only reports issued by a government, a department or party and government "
                          "jointly; repeatable."),
        click.option("--issuer", multiple=True,
                     help="Only reports whose issuer's name contains this (司法局, 深圳市交通运输局); repeatable."),
        click.option("--report-kind", "report_kind", multiple=True, type=click.Choice(REPORT_KINDS),
                     help="Only documents of this kind: report (annual reports), interpretation (政策解读), "
                          "plan (工作要点, 实施方案), other; repeatable."),
        click.option("--role", multiple=True, type=click.Choice(ROLES),
                     help="Only paragraphs of this role (measure = work carried out); repeatable."),
        click.option("--include-boilerplate", is_flag=True,
                     help="Also match generic formula passages (套话), left out by default."),
    ])


def filters_from(values: dict[str, Any]) -> Any:
    """The :class:`~simkit.search.filters.Filters` of the values of :func:`filter_options`."""
    from simkit.search.filters import Filters

    return Filters.from_options(values)


def result_options(func: F) -> F:
    """-k, --hits and --threshold, shared by the commands that rank regions."""
    return _apply(func, [
        click.option("-k", "k", default=None, type=click.IntRange(1),
                     help="Number of regions [default: 5, or all above --threshold]."),
        click.option("--hits", default=3, show_default=True, type=click.IntRange(1),
                     help="Paragraphs shown per region."),
        click.option("--threshold", type=click.FloatRange(0, 1), default=None,
                     help="Return every region whose best paragraph reaches this calibrated score "
                          "(0-1; 0.99 ≈ stands out by 2.3 standard deviations) instead of a fixed -k."),
    ])


def peer_options(func: F) -> F:
    """--peers and --min-support, shared by the commands that learn from a region's closest peers."""
    return _apply(func, [
        click.option("--peers", default=10, show_default=True, type=click.IntRange(1),
                     help="How many of the most similar regions count as peers."),
        click.option("--min-support", default=2, show_default=True, type=click.IntRange(1),
                     help="Peer regions that must have a measure or initiative for it to be listed."),
    ])


def min_regions_option(func: F) -> F:
    """--min-regions, shared by the commands that list initiatives."""
    return click.option("--min-regions", default=2, show_default=True, type=click.IntRange(1),
                        help="Only initiatives found in at least this many regions.")(func)
