"""Search quality with the shipped search settings and with some of them changed; prints JSON.

    python scripts/compare_settings.py QUERIES.json [QUERIES.json ...] --index indexes/demo \
        --change problem_units_last=false [--change evidence_sentence=0.75] [--mode hybrid --mode dense]

Each query file is scored twice per mode (k 5) by :func:`simkit.evaluation.queries.evaluate`, as ``simkit eval``
scores it: with :data:`simkit.search.settings.DEFAULT_SETTINGS` and with the ``--change`` values applied to them
(``NAME=VALUE``, the value read as JSON: ``false``, ``0.75``, ``"sentence"``). The figures of
docs/method/evidence.md ("A region's problems section comes last") were measured this way. It reports what a
change does on sets that are not used to choose constants; choosing is ``simkit eval --folds K``'s job
(docs/method/cross-validation.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from simkit.api import open_index
from simkit.errors import QueryError, SimkitError
from simkit.evaluation.queries import evaluate, load_queries
from simkit.search.settings import DEFAULT_SETTINGS, SearchSettings


def parse_change(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` with the value read as JSON (a bare word that is not JSON stays a string)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise QueryError(f"--change {text!r}: write NAME=VALUE, e.g. problem_units_last=false")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value.strip()


def changed_settings(changes: list[str]) -> SearchSettings:
    """The shipped settings with ``changes`` applied (an unknown name or a bad value is a :class:`QueryError`)."""
    values = dict(parse_change(change) for change in changes)
    return SearchSettings.from_dict({**DEFAULT_SETTINGS.to_dict(), **values})


def compare(index_dir: Path, files: list[Path], changed: SearchSettings, modes: list[str]) -> dict[str, Any]:
    """Per query file and mode, the summary by language with the shipped and with the changed settings."""
    report: dict[str, Any] = {"index": str(index_dir), "changed": {
        name: value for name, value in changed.to_dict().items() if value != getattr(DEFAULT_SETTINGS, name)},
        "sets": {}}
    with open_index(index_dir) as index:
        for path in files:
            queries = load_queries(path)
            report["sets"][str(path)] = {
                mode: {label: evaluate(index, queries, k=5, mode=mode, settings=settings).summary
                       for label, settings in (("shipped", DEFAULT_SETTINGS), ("changed", changed))}
                for mode in modes}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="+", type=Path, help="labelled query files (the simkit eval format)")
    parser.add_argument("--index", type=Path, default=Path("indexes/demo"))
    parser.add_argument("--change", action="append", default=[], metavar="NAME=VALUE", required=True,
                        help="a SearchSettings field and its value, read as JSON; repeatable")
    parser.add_argument("--mode", action="append", choices=("hybrid", "dense", "lexical"),
                        help="search modes to score (default: all three)")
    args = parser.parse_args(argv)
    try:
        report = compare(args.index, args.queries, changed_settings(args.change),
                         args.mode or ["hybrid", "dense", "lexical"])
    except SimkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
