"""Render the help of every `simkit` command and subcommand as Markdown (docs/cli.md).

    python scripts/cli_reference.py > docs/cli.md          # regenerate
    python scripts/cli_reference.py --check docs/cli.md    # exit 1 if docs/cli.md is stale

The help comes from click itself (``Command.get_help``) at a fixed width, so the output does not
depend on the terminal. Environment variables bound to options (``SIMKIT_INDEX``, ``SIMKIT_MODEL``)
are unset while rendering, and no ``default_map`` is used, so the page shows the built-in defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

WIDTH = 100
REGENERATE = "python scripts/cli_reference.py > docs/cli.md"


def _commands(ctx: click.Context) -> Iterator[click.Context]:
    """``ctx`` and the contexts of all its visible subcommands, depth first, in listing order."""
    yield ctx
    command = ctx.command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from _commands(_context(sub, name, ctx))


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    settings = dict(command.context_settings)
    settings.update(terminal_width=WIDTH, max_content_width=WIDTH, default_map=None, auto_envvar_prefix=None)
    return click.Context(command, info_name=name, parent=parent, **settings)


def _envvars(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            names.add(envvar)
        elif envvar:
            names.update(envvar)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= _envvars(sub)
    return names


@contextmanager
def _without(names: set[str]) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def load_group() -> click.Command:
    """The ``simkit`` click group: ``simkit.cli.main`` where that is the group, else ``simkit.cli.cli``
    (today ``main`` is the console-script function that calls the group ``cli``)."""
    import simkit.cli as module

    for name in ("main", "cli"):
        command = getattr(module, name, None)
        if isinstance(command, click.Command):
            return command
    raise RuntimeError("simkit.cli has no click group named main or cli")


def command_contexts(group: click.Command | None = None, name: str = "simkit") -> list[click.Context]:
    """One context per command, the root group first (what the tests walk)."""
    if group is None:
        group = load_group()
    return list(_commands(_context(group, name, None)))


def _anchor(path: str) -> str:
    return path.replace(" ", "-")


def render(group: click.Command | None = None, name: str = "simkit") -> str:
    """The Markdown page: a table of commands, then each command's --help in a text block."""
    if group is None:
        group = load_group()
    with _without(_envvars(group)):
        contexts = command_contexts(group, name)
        lines = [
            "# Command-line reference",
            "",
            f"Generated from `--help` by `{REGENERATE}`; do not edit by hand (`tests/test_docs.py` fails",
            "when this page is stale).",
            "",
            "| command | what it does |",
            "|---|---|",
        ]
        for ctx in contexts[1:]:
            if isinstance(ctx.command, click.Group):
                continue
            summary = ctx.command.get_short_help_str(limit=200).replace("|", "\\|")
            lines.append(f"| [`{ctx.command_path}`](#{_anchor(ctx.command_path)}) | {summary} |")
        for ctx in contexts:
            lines += ["", f"## {ctx.command_path}", "", "```text", ctx.command.get_help(ctx).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE", type=Path,
                        help="compare FILE with the generated text; exit 1 if it differs")
    args = parser.parse_args(argv)
    text = render()
    if args.check is None:
        sys.stdout.write(text)
        return 0
    try:
        current = args.check.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{args.check}: cannot read it ({exc.strerror}); regenerate it with: {REGENERATE}", file=sys.stderr)
        return 1
    if current != text:
        print(f"{args.check} is out of date with `simkit --help`; regenerate it with: {REGENERATE}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's simkit, not another install
    sys.exit(main())
