"""``--out`` of ``simkit ingest`` and ``simkit report`` (issue 16, probe 2): a file is replaced atomically,
anything else (a device, a FIFO, /dev/stdout, a symbolic link's target) is written through or named in a
one-line error, and ``-`` is stdout.

Probes that would replace a real device node on the code before the fix run as user nobody (65534) when
the tests run as root, who may replace anything in /dev: they use /dev/null and /dev/full, which nobody
can write through but never replace. The rest work on a FIFO and links in a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, PROJECT

from simkit.cli import cli

REPORT = EXAMPLES / "siping-2023.txt"
NOBODY = 65534


def _units(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def _simkit_as_nobody(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m simkit ARGS`` as user nobody when we are root (root would replace a device node; nobody cannot)."""
    command = [sys.executable, "-m", "simkit", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        assert os.path.exists(setpriv), "running as root without setpriv: this probe could replace a device node"
        command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run(command, cwd="/", env=env, stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300)


def _device(path: str) -> tuple[int, int]:
    info = os.lstat(path)
    assert stat.S_ISCHR(info.st_mode), f"{path} is no longer a device node"
    return info.st_mode, info.st_rdev


def test_out_dev_null_is_written_through_not_replaced():
    """Probe 2: `ingest --out /dev/null` replaced the device node with a regular file (as root); it writes through."""
    before = _device("/dev/null")
    done = _simkit_as_nobody("ingest", str(REPORT), "--out", "/dev/null")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert _device("/dev/null") == before


def test_out_dev_full_fails_in_one_line_naming_it():
    """Probe 2: `--out /dev/full` was replaced by a file; now the write fails with the device's own error."""
    before = _device("/dev/full")
    done = _simkit_as_nobody("ingest", str(REPORT), "--out", "/dev/full")
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: /dev/full: No space left on device; check the path and its permissions"
    assert _device("/dev/full") == before


def test_out_dev_stdout_goes_to_the_redirection_and_the_summary_to_stderr():
    """Probe 2: `--out /dev/stdout` replaced the /dev/stdout link; it writes to stdout's file (appending, as `>>`)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chown(folder, NOBODY, NOBODY)  # nobody reopens the redirected file through /proc/self/fd/1
        out = Path(folder) / "units.jsonl"
        out.write_text("kept\n", encoding="utf-8")
        os.chown(out, NOBODY, NOBODY)
        link = os.readlink("/dev/stdout")
        with out.open("a", encoding="utf-8") as handle:
            done = _simkit_as_nobody("ingest", str(REPORT), "--out", "/dev/stdout", stdout=handle.fileno())
        assert done.returncode == 0, done.stderr
        assert os.readlink("/dev/stdout") == link
        lines = out.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "kept" and len(_units("\n".join(lines[1:]))) > 10
        assert done.stderr.startswith("Wrote ") and "/dev/stdout" in done.stderr


def test_out_fifo_is_written_through_to_its_reader(tmp_path):
    """Probe 2: `--out FIFO` replaced the FIFO with a file and its reader waited forever; the reader gets the units."""
    fifo = tmp_path / "units.fifo"
    os.mkfifo(fifo)
    received: list[str] = []

    def read() -> None:
        with fifo.open(encoding="utf-8") as handle:  # blocks until the command opens the FIFO
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = CliRunner().invoke(cli, ["ingest", str(REPORT), "--out", str(fifo)])
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not reader.is_alive() and len(_units(received[0])) > 10
    assert list(tmp_path.iterdir()) == [fifo]  # no temporary file left beside it


def test_out_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    """Probe 2: `--out LINK` replaced the link by a file; the file it names is replaced (mode kept), the link stays."""
    data = tmp_path / "data"
    data.mkdir()
    target = data / "units.jsonl"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "latest.jsonl"
    link.symlink_to(Path("data") / "units.jsonl")  # relative, as `ln -s` makes them
    result = CliRunner().invoke(cli, ["ingest", str(REPORT), "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(Path("data") / "units.jsonl")
    assert len(_units(target.read_text(encoding="utf-8"))) > 10
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in data.iterdir()) == ["units.jsonl"]


def test_out_dangling_symlink_creates_the_file_it_names(tmp_path):
    """Probe 2: a link to a file not yet written: the file is created, the link kept."""
    link = tmp_path / "latest.jsonl"
    link.symlink_to(tmp_path / "units.jsonl")
    result = CliRunner().invoke(cli, ["ingest", str(REPORT), "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and len(_units((tmp_path / "units.jsonl").read_text(encoding="utf-8"))) > 10


def test_out_dash_is_stdout(tmp_path, monkeypatch):
    """Probe 2: `--out -` wrote a file named "-"; it is stdout, and the summary goes to stderr."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["ingest", str(REPORT), "--out", "-"])
    assert result.exit_code == 0, result.output
    assert len(_units(result.stdout)) > 10
    assert result.stderr.startswith("Wrote ") and "to stdout" in result.stderr
    assert not (tmp_path / "-").exists()


def test_report_out_dash_is_stdout(markup_index_dir, tmp_path, monkeypatch):
    """Probe 2: `report --out -` prints the page instead of writing a file named "-"."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--index", str(markup_index_dir), "--out", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")
    assert "Wrote the page to stdout" in result.stderr
    assert not (tmp_path / "-").exists()


def test_report_out_symlink_keeps_the_link(markup_index_dir, tmp_path):
    """Probe 2: `report --out LINK` writes the page to the link's target."""
    page = tmp_path / "page.html"
    link = tmp_path / "report.html"
    link.symlink_to(page)
    result = CliRunner().invoke(cli, ["report", "--index", str(markup_index_dir), "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_out_link_loop_is_one_line_error(tmp_path):
    """A link that names itself cannot be written: one `Error:` line, no traceback."""
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    result = CliRunner().invoke(cli, ["ingest", str(REPORT), "--out", str(loop)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {loop}: ") and "Traceback" not in result.output


def test_write_target_says_what_is_replaced(tmp_path):
    """Only an absent path or a regular file (through its links) is replaced atomically."""
    from simkit.fileio import write_target

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    assert write_target(tmp_path / "new") == (tmp_path / "new", True)
    assert write_target(tmp_path / "link") == (tmp_path / "file", True)
    assert write_target(fifo) == (fifo, False)
    assert write_target("/dev/null") == (Path("/dev/null"), False)
    assert write_target("/dev/stdout")[1] is False
    assert write_target(tmp_path)[1] is False  # a folder: opening it fails, it is never replaced


def test_atomic_writer_keeps_the_old_file_when_the_block_fails(tmp_path):
    """A failed write leaves the old content and no temporary file."""
    from simkit.fileio import atomic_writer

    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_writer(path) as handle:
        handle.write("new")
        raise RuntimeError("stop")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
