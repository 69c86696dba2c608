"""The command line, through click's CliRunner: exit codes and one-line messages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from simkit.cli import cli
from simkit.store.layout import current_version

QUERY = "在乡镇推行一支队伍管执法的综合执法改革"


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_search_text_output(runner, demo_index_dir):
    result = runner.invoke(cli, ["search", QUERY, "--index", str(demo_index_dir), "-k", "3"])
    assert result.exit_code == 0, result.output
    regions = ["石狮市", "泰顺县", "厦门市", "四平市", "泉州市泉港区"]
    assert sum(name in result.output for name in regions) == 3
    assert "[hybrid]" in result.output
    assert "§ " in result.output and "id " in result.output


def test_search_json_output_and_envvar(runner, demo_index_dir):
    result = runner.invoke(cli, ["search", "bundle related services so people apply once at one window", "--json"],
                           env={"SIMKIT_INDEX": str(demo_index_dir)})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "multilingual-e5-small"
    assert len(data["regions"]) == 5
    assert data["regions"][0]["hits"][0]["paragraph_id"]


def test_similar_and_show(runner, demo_index_dir):
    found = json.loads(runner.invoke(cli, ["search", QUERY, "--index", str(demo_index_dir), "--json"]).output)
    top = found["regions"][0]
    paragraph_id = top["hits"][0]["paragraph_id"]
    result = runner.invoke(cli, ["similar", paragraph_id, "--index", str(demo_index_dir), "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert top["region"] not in [r["region"] for r in json.loads(result.output)["regions"]]
    shown = runner.invoke(cli, ["show", paragraph_id, "--index", str(demo_index_dir), "--json"])
    assert json.loads(shown.output)["text"] == top["hits"][0]["text"]


def test_unknown_paragraph_id(runner, demo_index_dir):
    result = runner.invoke(cli, ["similar", "nope:123", "--index", str(demo_index_dir)])
    assert result.exit_code == 1
    assert _error_lines(result.output) == [_error_lines(result.output)[0]]
    assert "nope:123" in result.output
    assert "Traceback" not in result.output


def test_bad_inputs_are_reported_and_good_files_still_indexed(runner, tmp_path, examples_dir):
    binary = tmp_path / "scan.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    missing = tmp_path / "missing.txt"
    index_dir = tmp_path / "index"
    result = runner.invoke(cli, ["build", str(examples_dir / "xiamen-2021.txt"), str(binary), str(empty),
                                 str(missing), "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 1, result.output
    errors = _error_lines(result.output)
    assert len(errors) == 3
    assert any("scan.txt" in e for e in errors)
    assert any("empty.txt" in e for e in errors)
    assert any("missing.txt" in e for e in errors)
    assert "Traceback" not in result.output
    assert current_version(index_dir).manifest.counts["documents"] == 1
    searched = runner.invoke(cli, ["search", "行政复议", "--index", str(index_dir), "--json"])
    assert [r["region"] for r in json.loads(searched.output)["regions"]] == ["厦门市"]


def test_corrupt_index_is_one_line_error(runner, index_copy):
    faiss_file = current_version(index_copy).path / "vectors.faiss"
    data = bytearray(faiss_file.read_bytes())
    data[-50] ^= 0x01  # same size: opening checks sizes, `simkit verify` hashes every file
    faiss_file.write_bytes(bytes(data))
    result = runner.invoke(cli, ["verify", "--index", str(index_copy)])
    assert result.exit_code == 1
    [error] = _error_lines(result.output)
    assert "vectors.faiss" in error
    faiss_file.write_bytes(bytes(data[:-50]))  # truncated: refused on open
    result = runner.invoke(cli, ["search", QUERY, "--index", str(index_copy)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "vectors.faiss" in result.output and "rebuild" in result.output


def test_unknown_model_path_is_one_line_error(runner, tmp_path, examples_dir):
    result = runner.invoke(cli, ["build", str(examples_dir), "--index", str(tmp_path / "i"),
                                 "--model", str(tmp_path / "no-model")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:")
    assert "no-model" in result.output
    assert not (tmp_path / "i" / "CURRENT").exists()


def test_missing_index(runner, tmp_path):
    result = runner.invoke(cli, ["search", QUERY, "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "simkit build" in result.output


def test_unknown_flag_is_a_usage_error(runner):
    result = runner.invoke(cli, ["search", QUERY, "--no-such-flag"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_parse_json(runner, examples_dir):
    result = runner.invoke(cli, ["parse", str(examples_dir / "shishi-2024.txt"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["document"]["region"] == "石狮市"
    assert data["document"]["year"] == 2024
    assert {"id", "section", "text", "start", "end"} <= set(data["paragraphs"][0])


def test_every_command_has_help(runner):
    def walk(group, prefix):
        for name, command in group.commands.items():
            assert command.help, f"{prefix} {name} has no help"
            yield [*prefix, name]
            if hasattr(command, "commands"):
                yield from walk(command, [*prefix, name])

    for path in walk(cli, []):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path


def test_cold_search_process_never_imports_torch(demo_index_dir):
    code = (
        f"import sys, runpy; sys.argv=['simkit','search',{QUERY!r},'--index',{str(demo_index_dir)!r},'--json'];\n"
        "try:\n    runpy.run_module('simkit', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "NO-TORCH" in done.stderr, done.stderr
    assert json.loads(done.stdout)["regions"]


def test_parse_renders_outline_tree_with_roles_and_boilerplate(runner, examples_dir, demo_index_dir):
    result = runner.invoke(cli, ["parse", str(examples_dir / "taishun-2023.txt"), "--index", str(demo_index_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("title") and "泰顺县人民政府" in lines[0]
    assert "adcode 330329" in lines[1]
    assert any(line.startswith("一、") for line in lines)
    assert any(line.startswith("  （一）") or line.startswith("  (一)") for line in lines)
    assert any("[meas plan" in line or "[para plan" in line for line in lines)
    assert any("[meas meas" in line for line in lines)
    assert "boilerplate not judged" not in result.output


def test_ingest_writes_jsonl_units(runner, examples_dir, tmp_path):
    out = tmp_path / "units.jsonl"
    result = runner.invoke(cli, ["ingest", str(examples_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["region"] for r in records} == {"石狮市", "泰顺县", "厦门市", "四平市", "泉州市泉港区"}
    kinds = {r["kind"] for r in records}
    assert {"measure", "parent"} <= kinds
    parents = {r["id"] for r in records if r["kind"] == "parent"}
    assert all(r["parent_id"] in parents for r in records if r["kind"] == "measure")
    assert any(r["boilerplate"] for r in records)
    assert {r["role"] for r in records} >= {"measure", "plan", "problem", "overview"}
    # Formula spans are offsets into the report, as start/end are: 石狮's opening formula is one.
    opening = next(r for r in records if r["document"] == "shishi-2024" and r["boilerplate"])
    begin = opening["start"]
    assert any("以习近平新时代中国特色社会主义思想为指导" in opening["text"][a - begin : b - begin]
               for a, b in opening["formula_spans"])
    supervision = next(r for r in records if "司法监督等监督方式协调配合" in r["text"] and r["kind"] != "parent")
    assert not supervision["boilerplate"]
    (a, b), = supervision["formula_spans"]
    formula = supervision["text"][a - supervision["start"] : b - supervision["start"]]
    assert "强化党内监督、人大监督、政协监督" in formula and "157" not in formula


def test_parse_shows_formula_spans_of_a_unit(runner, examples_dir, demo_index_dir):
    path = str(examples_dir / "quangang-2023.txt")
    result = runner.invoke(cli, ["parse", path, "--index", str(demo_index_dir), "--json", "--width", "60"])
    assert result.exit_code == 0, result.output
    unit = next(p for p in json.loads(result.output)["paragraphs"] if "司法监督等监督方式" in p["text"])
    assert not unit["boilerplate"] and unit["formula_spans"]
    tree = runner.invoke(cli, ["parse", path, "--index", str(demo_index_dir)]).output
    line = next(line for line in tree.splitlines() if "强化对行政权力制约监督。" in line)
    assert "[para meas b]" in line


def test_ingest_stops_at_first_bad_file_unless_skip_bad(runner, examples_dir, tmp_path):
    bad = tmp_path / "reports" / "broken.pdf"
    bad.parent.mkdir()
    bad.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    good = tmp_path / "reports" / "xiamen.txt"
    good.write_bytes((examples_dir / "xiamen-2021.txt").read_bytes())
    out = tmp_path / "units.jsonl"
    stopped = runner.invoke(cli, ["ingest", str(bad.parent), "--out", str(out)])
    assert stopped.exit_code == 1
    assert _error_lines(stopped.output) and "broken.pdf" in _error_lines(stopped.output)[0]
    assert not out.exists()
    skipped = runner.invoke(cli, ["ingest", str(bad.parent), "--out", str(out), "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert "Skipped:" in skipped.output and "broken.pdf" in skipped.output
    assert {json.loads(line)["region"] for line in out.read_text(encoding="utf-8").splitlines()} == {"厦门市"}


def test_unknown_region_is_indexed_with_a_warning(runner, tmp_path):
    report = tmp_path / "no-region.txt"
    report.write_text(
        "一、主要工作\n（一）推进综合行政执法改革。组建综合行政执法队伍，实行一支队伍管执法，整合执法事项120项。\n"
        "（二）深化政务服务改革。推行一件事一次办，集成套餐服务事项达到50项，群众办事跑动次数明显减少。\n",
        encoding="utf-8",
    )
    index_dir = tmp_path / "index"
    result = runner.invoke(cli, ["build", str(report), "--index", str(index_dir), "-q"])
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "no-region.txt" in result.output and "--region" in result.output
    found = json.loads(runner.invoke(cli, ["search", "综合行政执法", "--index", str(index_dir), "--json"]).output)
    # Unknown is not a region: the report stands as itself (no issuer or title here: its id), never grouped.
    assert [(r["region"], r["region_name"]) for r in found["regions"]] == [("[no-region]", None)]
    unknown = json.loads(runner.invoke(cli, ["search", "综合行政执法", "--index", str(index_dir), "--json",
                                             "--region", "unknown"]).output)
    assert [r["region"] for r in unknown["regions"]] == ["[no-region]"]
    overridden = runner.invoke(cli, ["build", str(report), "--index", str(index_dir), "-q", "--region", "泰顺县"])
    assert overridden.exit_code == 0 and "Warning" not in overridden.output
    found = json.loads(runner.invoke(cli, ["search", "综合行政执法", "--index", str(index_dir), "--json"]).output)
    assert found["regions"][0]["region"] == "泰顺县" and found["regions"][0]["province"] == "浙江省"


def test_output_into_a_closed_pipe_stops_quietly(examples_dir):
    """`simkit parse FILE | head -1`: no error line or traceback once the reader has gone, and the
    exit status of a process stopped by SIGPIPE."""
    import fcntl  # Linux pipes, whose size can be set (simkit runs on Linux)

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)  # smaller than the output (~21 kB)
    command = [sys.executable, "-m", "simkit", "parse", str(examples_dir / "siping-2023.txt"), "--all",
               "--width", "300"]
    process = subprocess.Popen(command, stdout=write_end, stderr=subprocess.PIPE,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.readline().startswith(b"title")
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr.decode()) == (141, "")


def test_a_table_into_a_closed_pipe_exits_like_other_output():
    """rich's own handling would exit 1; tables (search, clusters, matrix) exit 141 like the rest."""
    from simkit.cli.render import console

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(SystemExit) as stopped:
        console(file=ClosedPipe(), width=80).print("石狮市")
    assert stopped.value.code == 141


def test_a_broken_pipe_without_a_file_descriptor_still_exits_quietly(runner, examples_dir, monkeypatch):
    """Under CliRunner (or any wrapped stdout) there is no descriptor to point at /dev/null."""
    import simkit.reading.parse

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(simkit.reading.parse, "parse_report", closed)
    result = runner.invoke(cli, ["parse", str(examples_dir / "siping-2023.txt")])
    assert result.exit_code == 141 and isinstance(result.exception, SystemExit), result.exception
