"""The ``simkit`` command line: parse options, call the library, render. The only package that prints.

One module per group of commands, along the data flow:

* :mod:`~simkit.cli.reading` parse, ingest;
* :mod:`~simkit.cli.index` build, rebuild, versions, rollback, verify, info;
* :mod:`~simkit.cli.search` search, similar, show, recommend;
* :mod:`~simkit.cli.initiatives` clusters, matrix, report;
* :mod:`~simkit.cli.models` models install, models list;
* :mod:`~simkit.cli.evaluate` eval;
* :mod:`~simkit.cli.serve` serve (HTTP; imports :mod:`simkit.serve` only when it runs).

Shared options are in :mod:`~simkit.cli.options`, all output goes through :mod:`~simkit.cli.render`,
and :mod:`~simkit.cli.errors` maps exceptions to ``Error: …`` lines and exit codes. Importing this
package loads no model, index or table library: each command imports what it needs when it runs.
"""

from __future__ import annotations

import click

from simkit.cli import evaluate, index, initiatives, models, reading, search, serve
from simkit.cli.errors import SimkitGroup
from simkit.config import configure_threads

__all__ = ["cli", "main"]


@click.group(cls=SimkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="simkit")
def cli() -> None:
    """Find which regions' rule-of-law reports describe measures similar to yours."""
    configure_threads()


for _module in (reading, index, search, initiatives, models, evaluate, serve):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="simkit")
