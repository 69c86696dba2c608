"""The index and its versions: ``build``, ``rebuild``, ``versions``, ``rollback``, ``verify``, ``info``."""

from __future__ import annotations

import sys

import click

import simkit
from simkit.cli import render
from simkit.cli.errors import EXIT_ERROR, EXIT_NOTHING_CHANGED, error, fail, warn
from simkit.cli.options import (
    index_option,
    json_option,
    metadata_option,
    ray_options,
    region_option,
    runtime_option,
)
from simkit.cli.progress import announce_model, log_to_stderr, progress_factory
from simkit.store.layout import KEEP_VERSIONS


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--model", default=None, envvar="SIMKIT_MODEL",
              help="Model profile name or local sentence-transformers directory [default: multilingual-e5-small].")
@region_option
@metadata_option
@click.option("--embed-context", type=click.Choice(["section", "none"]), default="section", show_default=True,
              help="Embed each paragraph with its outline titles in front (section) or alone (none).")
@runtime_option
@ray_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes.")
@json_option
def build(paths: tuple[str, ...], index_dir: str | None, model: str | None, region: str | None,
          metadata: str | None, embed_context: str, runtime: str | None, ray: str | None,
          ray_workers: int | None, quiet: bool, as_json: bool) -> None:
    """Index report files and folders (PATHS) into a new version of the index."""
    from simkit.config import index_dir as resolve_index_dir

    target = resolve_index_dir(index_dir)
    announce_model(model, quiet or as_json)
    result = simkit.build_index(paths, target, model, region=region, metadata=metadata, embed_context=embed_context,
                                progress=progress_factory(quiet or as_json), runtime=runtime, ray=ray,
                                ray_workers=ray_workers)
    render.render(result, render.BUILD, render.output_format(as_json), target=target)
    for skipped in result.skipped:
        error(skipped.reason)
    if result.skipped:
        sys.exit(EXIT_ERROR)


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--keep", default=KEEP_VERSIONS, show_default=True, type=click.IntRange(1),
              help="Versions to keep (the current one included); older ones are removed after the swap.")
@click.option("--keep-missing", is_flag=True, help="Keep reports that are no longer among SOURCES.")
@click.option("--skip-bad", is_flag=True,
              help="Exit as usual when a source folder cannot be read or a source is missing (its reports are "
                   "kept and it is listed under skipped) instead of with code 1.")
@click.option("--force", is_flag=True,
              help="Re-read every report and publish a new version even if nothing changed (after an upgrade).")
@click.option("--model", default=None, envvar="SIMKIT_MODEL",
              help="Model profile or local directory [default: the current version's model].")
@region_option
@metadata_option
@click.option("--embed-context", type=click.Choice(["section", "none"]), default=None,
              help="Outline titles in front of each paragraph or not [default: the current version's].")
@runtime_option
@ray_options
@click.option("-q", "--quiet", is_flag=True, help="No progress or log lines.")
@click.option("-v", "--verbose", is_flag=True, help="Log each stage to stderr even when it is not a terminal.")
@json_option
def rebuild(sources: tuple[str, ...], index_dir: str | None, keep: int, keep_missing: bool, skip_bad: bool,
            force: bool, model: str | None, region: str | None, metadata: str | None, embed_context: str | None,
            runtime: str | None,
            ray: str | None, ray_workers: int | None, quiet: bool, verbose: bool, as_json: bool) -> None:
    """Bring the index up to date with SOURCES (report files and folders), embedding only what changed.

    The new version is built beside the current one, validated and swapped in atomically.
    Exit codes: 0 published, 3 nothing changed, 4 validation failed (the previous version
    still serves), 5 another rebuild is running, 1 other errors, or a source folder that
    cannot be read or a missing source (its reports are kept; not with --skip-bad).
    """
    from simkit.config import index_dir as resolve_index_dir

    target = resolve_index_dir(index_dir)
    fmt = render.output_format(as_json)
    log_to_stderr(verbose or (not quiet and sys.stderr.isatty()))
    try:
        report = simkit.rebuild_index(sources, target, model=model, embed_context=embed_context, keep=keep,
                                      keep_missing=keep_missing, force=force, region=region, metadata=metadata,
                                      progress=progress_factory(quiet or as_json), runtime=runtime, ray=ray,
                                      ray_workers=ray_workers)
    except Exception as exc:  # a failed run still prints its report (status "failed", error), then its error
        failed = getattr(exc, "report", None)
        if fmt == render.JSON and failed is not None:
            render.echo_json(failed)
        raise
    render.render(report, render.REBUILD, fmt, target=target)
    unlisted = [skipped.file for skipped in report.skipped if skipped.unlisted]
    if unlisted and not skip_bad:  # the reports there were kept, but new or changed ones were not seen
        fail(f"{', '.join(unlisted)}: cannot be read; the reports indexed from there were kept as they were; "
             "fix the permissions or the path, or pass --skip-bad to exit as usual")
    if report.status == "unchanged":
        sys.exit(EXIT_NOTHING_CHANGED)


@click.command()
@index_option
@json_option
def versions(index_dir: str | None, as_json: bool) -> None:
    """List the index's versions, oldest first; * marks the current one."""
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.versions import list_versions
    from simkit.store.layout import pointer_problem

    root = resolve_index_dir(index_dir)
    render.render(list_versions(root), render.VERSIONS, render.output_format(as_json))
    problem = pointer_problem(root)
    if problem:  # listing is part of the repair, so the list comes first and this is only a warning
        warn(problem)


@click.command()
@click.argument("version", required=False)
@index_option
def rollback(version: str | None, index_dir: str | None) -> None:
    """Serve an earlier VERSION again [default: the one before the current]; see `simkit versions`."""
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.versions import rollback as rollback_index

    target = resolve_index_dir(index_dir)
    before, after = rollback_index(target, version)
    was = f"was {before}" if before else "CURRENT was missing or damaged"
    click.echo(f"{target}: now serving version {after} ({was}).")


@click.command()
@index_option
@click.option("--all", "all_versions", is_flag=True, help="Check every published version, not only the current one.")
@json_option
def verify(index_dir: str | None, all_versions: bool, as_json: bool) -> None:
    """Check every file of the current version against its sha256 checksum and open it (exit 1 if damaged).

    Opening an index only checks file sizes; schedule this command to catch bit rot (docs/operations.md).
    """
    from simkit.config import index_dir as resolve_index_dir
    from simkit.pipeline.versions import verify_index

    checks = verify_index(resolve_index_dir(index_dir), all_versions=all_versions)
    render.render(checks, render.VERIFY, render.output_format(as_json))
    damaged = [c for c in checks if c.problem]
    for check in damaged:
        error(check.problem)
    if damaged:
        sys.exit(EXIT_ERROR)


@click.command()
@index_option
@json_option
def info(index_dir: str | None, as_json: bool) -> None:
    """Show the index's current version, model, counts and the last rebuild's report."""
    with simkit.open_index(index_dir) as index:
        data = index.info().to_dict()
    render.render(data, render.INFO, render.output_format(as_json))


COMMANDS = [build, rebuild, versions, rollback, verify, info]
