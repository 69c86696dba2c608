"""The command line's contract beyond single commands: help texts, usage errors, exit codes, the one
renderer's writers, and the JSON of ``matrix --missing``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from simkit.cli import cli, render
from simkit.cli.errors import SimkitGroup
from simkit.errors import LockedError, NotFoundError, ValidationError


def _commands(group: click.Group, prefix: list[str]):
    """Every command and subcommand, as its path of names, groups before their commands."""
    for name, command in sorted(group.commands.items()):
        yield [*prefix, name], command
        if isinstance(command, click.Group):
            yield from _commands(command, [*prefix, name])


ALL_COMMANDS = list(_commands(cli, []))


def test_the_commands_are_all_there():
    assert [" ".join(path) for path, _ in ALL_COMMANDS] == [
        "build", "clusters", "eval", "info", "ingest", "matrix", "models", "models install", "models list",
        "parse", "rebuild", "recommend", "report", "rollback", "search", "serve", "show", "similar", "verify",
        "versions"]


@pytest.mark.parametrize("path", [[]] + [p for p, _ in ALL_COMMANDS], ids=lambda p: " ".join(p) or "simkit")
def test_every_command_has_help_text_and_every_option_too(path):
    command: click.Command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help and command.help.strip(), f"simkit {' '.join(path)} has no help"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"simkit {' '.join(path)} {param.opts[0]} has no help"
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="simkit")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(['simkit', *path])} ")
    assert command.help.split("\n")[0].strip()[:40] in " ".join(result.output.split())


@pytest.mark.parametrize("path", [[]] + [p for p, _ in ALL_COMMANDS], ids=lambda p: " ".join(p) or "simkit")
def test_an_unknown_option_is_a_usage_error(path):
    result = CliRunner().invoke(cli, [*path, "--no-such-option"], prog_name="simkit")
    name = " ".join(["simkit", *path])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Usage: {name} ")
    assert f"Try '{name} --help' for help." in result.output
    assert "Error: No such option '--no-such-option'" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["serach", "x"], prog_name="simkit")
    assert result.exit_code == 2 and result.output.startswith("Usage: simkit ")
    assert "No such command 'serach'" in result.output


def test_importing_the_cli_loads_no_heavy_library():
    code = ("import sys, simkit.cli\n"
            "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'transformers', 'numpy', 'rich',"
            " 'tqdm', 'jieba', 'simkit.search.engine', 'simkit.embedding.embedder') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------------- errors: one place for exit codes


def _failing_group() -> click.Group:
    @click.group(cls=SimkitGroup)
    def group() -> None:
        """A group."""

    failures = {
        "not-found": NotFoundError("nope:1: no such paragraph"),
        "invalid": ValidationError("v2: failed its checks"),
        "locked": LockedError("index: another rebuild is running"),
        "os": IsADirectoryError(21, "Is a directory", "out.html"),
        "os-nameless": OSError(28, "No space left on device"),
        "interrupted": KeyboardInterrupt(),
        "pipe": BrokenPipeError(32, "Broken pipe"),
        "usage": click.UsageError("give either TEXT or --from-file FILE"),
    }
    for name, exc in failures.items():
        def run(exc: BaseException = exc) -> None:
            raise exc

        group.command(name)(run)

    @group.group()
    def sub() -> None:
        """A plain click group inside: its commands' errors are mapped by the group above."""

    @sub.command()
    def deep() -> None:
        raise NotFoundError("deep down")

    return group


@pytest.mark.parametrize(("args", "code", "line"), [
    (["not-found"], 1, "Error: nope:1: no such paragraph"),
    (["invalid"], 4, "Error: v2: failed its checks"),
    (["locked"], 5, "Error: index: another rebuild is running"),
    (["os"], 1, "Error: out.html: Is a directory; check the path and its permissions"),
    (["os-nameless"], 1, "Error: file system: No space left on device; check the path and its permissions"),
    (["interrupted"], 130, "Error: interrupted"),
    (["pipe"], 141, ""),
    (["sub", "deep"], 1, "Error: deep down"),
])
def test_errors_become_one_line_and_an_exit_code(args, code, line):
    result = CliRunner().invoke(_failing_group(), args)
    assert result.exit_code == code, result.output
    assert result.output == (line + "\n" if line else "")


def test_usage_errors_raised_by_a_command_keep_click_usage_message():
    result = CliRunner().invoke(_failing_group(), ["usage"], prog_name="simkit")
    assert result.exit_code == 2
    assert result.output.startswith("Usage: simkit usage ")
    assert result.output.rstrip().endswith("Error: give either TEXT or --from-file FILE")


# --------------------------------------------------------------------------- render: the one set of writers


@dataclasses.dataclass
class _Plain:
    name: str
    years: tuple[int, ...] = ()


class _Result:
    def to_dict(self) -> dict:
        return {"from": "to_dict"}


def test_json_data_comes_from_to_dict_in_lists_and_envelopes():
    assert render.json_data({"region": "石狮市", "items": [_Result(), _Result()]}) == \
        {"region": "石狮市", "items": [{"from": "to_dict"}, {"from": "to_dict"}]}
    assert render.json_data(_Plain("x", (2023,))) == {"name": "x", "years": (2023,)}
    assert render.json_data([1, "a", None]) == [1, "a", None]


def test_echo_json_keeps_chinese_and_indents(capsys):
    render.echo_json({"region": "石狮市", "n": [1]})
    assert capsys.readouterr().out == '{\n  "region": "石狮市",\n  "n": [\n    1\n  ]\n}\n'


def test_echo_csv_writes_a_header_then_rows_none_empty(capsys):
    render.echo_csv(["a", "b"], [[1, None], ["x,y", "文本"]])
    assert capsys.readouterr().out == 'a,b\r\n1,\r\n"x,y",文本\r\n'


def test_output_format_refuses_json_and_csv_together():
    assert render.output_format() == render.TEXT
    assert render.output_format(as_json=True) == render.JSON
    assert render.output_format(as_csv=True) == render.CSV
    with pytest.raises(click.UsageError, match="choose one of --json and --csv"):
        render.output_format(True, True)


def test_render_dispatches_on_the_format(capsys):
    view = render.View(text=lambda r, who: click.echo(f"{who}: {r.name}"), columns=("name",),
                       rows=lambda r, who: [[r.name]], data=lambda r, who: {"who": who, "item": r})
    for fmt, expected in ((render.TEXT, "me: x\n"), (render.CSV, "name\r\nx\r\n"),
                          (render.JSON, '{\n  "who": "me",\n  "item": {\n    "name": "x",\n    "years": []\n  }\n}\n')):
        render.render(_Plain("x"), view, fmt, who="me")
        assert capsys.readouterr().out == expected


# --------------------------------------------------------------------------- matrix --missing: JSON of the result type


SUMMARY_KEYS = ["id", "label", "keywords", "regions", "cohesion", "years", "representative", "status",
                "region_status", "named_by", "first_year", "region", "peers", "closest_own_similarity", "relevance"]


@pytest.fixture(scope="module")
def region_with_missing(demo_index):
    for region in sorted({r for c in demo_index.clusters().clusters for r in c.regions}):
        missing = demo_index.missing_initiatives(region, peers=10, min_support=1, min_regions=2)
        if missing:
            return region, missing
    raise AssertionError("no region of the demo index misses an initiative of its peers")


def test_matrix_missing_json_is_the_summary_of_each_missing_initiative(demo_index_dir, region_with_missing):
    region, missing = region_with_missing
    result = CliRunner().invoke(cli, ["matrix", "--index", str(demo_index_dir), "--missing", region, "--json",
                                      "--min-support", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["region", "missing"] and data["region"] == region
    assert len(data["missing"]) == len(missing)
    for item, m in zip(data["missing"], missing):
        assert list(item) == SUMMARY_KEYS
        full = m.to_dict()
        # Every field of MissingInitiative.to_dict(), the initiative's one level up, but its member units.
        assert item == json.loads(json.dumps(
            {**{k: v for k, v in full["initiative"].items() if k != "units"}, "first_year": m.initiative.first_year,
             **{k: v for k, v in full.items() if k != "initiative"}}, ensure_ascii=False))
        assert item["first_year"] == min(y for y in item["years"].values() if y is not None)
        assert region not in item["regions"] and set(item["peers"]) <= set(item["regions"])
        assert item["region"] == region
        assert "units" not in item


def test_matrix_missing_text_and_csv(demo_index_dir, region_with_missing):
    region, missing = region_with_missing
    args = ["matrix", "--index", str(demo_index_dir), "--missing", region, "--min-support", "1"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[0] == f"1. {missing[0].initiative.id} {missing[0].initiative.label}"
    assert f"peers with it: {', '.join(missing[0].peers)}" in text.output
    rows = CliRunner().invoke(cli, [*args, "--csv"]).output.splitlines()
    assert rows[0] == "id,label,peers,regions,first_year,relevance" and len(rows) == 1 + len(missing)
    assert rows[1].startswith(f"{missing[0].initiative.id},")
    both = CliRunner().invoke(cli, [*args, "--csv", "--json"])
    assert both.exit_code == 2 and "choose one of --json and --csv" in both.output
