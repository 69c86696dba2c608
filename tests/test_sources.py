"""Collecting report files from sources that cannot all be read (issue 16, probes 1, 6, 7, 8 and 23).

Permissions do not apply to root, so the probes that need them run `simkit` in a subprocess as the
unprivileged user 65534 (`setpriv --reuid=65534 --regid=65534 --clear-groups`) on files given to that
user, in a folder under the system temporary directory that it can reach. The interpreter that runs
there must be one that user may execute (the venv's python may live in root's home): the first of the
running one and `/usr/bin/pythonX.Y` of the same version that it can start, with the venv's
site-packages on its path.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simkit.errors import InputError
from simkit.pipeline.sources import collect_files, parse_reports
from simkit.reading.readers import read_document
from simkit.store.database import Store
from simkit.store.layout import current_version

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = PROJECT / "examples" / "reports"
NOBODY = 65534
SETPRIV = "/usr/bin/setpriv"


# --------------------------------------------------------------------------- running simkit as another user


@functools.cache
def _unprivileged_python() -> tuple[list[str], str]:
    """The command prefix that runs this Python as a user without privileges, or ``[]`` and why not."""
    if os.geteuid() != 0:
        return [sys.executable], ""
    if not os.path.exists(SETPRIV):
        return [], f"running as root and {SETPRIV} is missing: cannot drop privileges to test permissions"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, os.path.realpath(sys.executable), f"/usr/bin/python{version}",
                  f"/usr/local/bin/python{version}"]
    for python in dict.fromkeys(candidates):
        try:
            probe = subprocess.run(
                [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", python, "-S", "-c",
                 "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, cwd="/")
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", python, "-S"], ""
    return [], f"no Python {version} that user {NOBODY} may run (the venv's lives where it cannot go)"


def _need_unprivileged() -> list[str]:
    prefix, why = _unprivileged_python()
    assert prefix, why
    return prefix


def run_simkit(args: list[str], cwd: Path, models: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``simkit ARGS`` in ``cwd`` as an unprivileged user (this checkout's simkit, the venv's libraries),
    with ``models`` (see :func:`readable_models`) as its models folder."""
    prefix = _need_unprivileged()
    paths = dict.fromkeys([str(PROJECT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if models is not None:
        env["SIMKIT_MODELS_DIR"] = str(models)
    return subprocess.run([*prefix, "-m", "simkit", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _shared_folder(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix, dir=tempfile.gettempdir()))
    base.chmod(0o755)
    return base


def _remove(base: Path) -> None:
    for folder, dirs, _ in os.walk(base):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def readable_models(embedder) -> Iterator[Path]:
    """A copy of the default model's folder and its runtime files that the unprivileged user can read (the
    materialized ones may be their owner's only), as a models folder (``SIMKIT_MODELS_DIR``)."""
    from simkit.embedding.runtime import runtime_dir

    _need_unprivileged()
    base = _shared_folder("simkit-models-")
    try:
        target = base / embedder.model.path.name
        shutil.copytree(embedder.model.path, target)
        embedder.prepare_runtime()  # and its ONNX exports, as `simkit models install` leaves them
        shutil.copytree(runtime_dir(embedder.model).parent, base / "runtimes")
        for folder, dirs, files in os.walk(base):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        yield base
    finally:
        _remove(base)


@pytest.fixture()
def shared() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's own are root's only); removed afterwards."""
    base = _shared_folder("simkit-sources-")
    try:
        yield base
    finally:
        _remove(base)


def give_away(root: Path) -> None:
    """Make the unprivileged user own ``root`` and everything under it (when running as root)."""
    if os.geteuid() != 0:
        return
    for folder, dirs, files in os.walk(root):
        os.chown(folder, NOBODY, NOBODY)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), NOBODY, NOBODY, follow_symlinks=False)


# --------------------------------------------------------------------------- tiny reports

CITIES = {"a": "厦门市", "b": "泉州市", "c": "福州市", "d": "漳州市"}


def report_text(key: str) -> str:
    """A short report of a city, with an outline and paragraphs long enough to be indexed."""
    city = CITIES[key]
    return (f"{city}人民政府关于2023年法治政府建设情况的报告\n\n"
            f"一、推进依法行政\n{city}全面推行行政执法公示制度、执法全过程记录制度和重大执法决定法制审核制度，"
            f"全年组织执法人员培训{len(city) * 7}场次。\n"
            f"二、优化营商环境\n{city}深化“放管服”改革，推行证明事项告知承诺制，"
            f"企业开办时间压缩至1个工作日以内，政务服务事项全部实现网上可办。\n")


def write_reports(src: Path, files: dict[str, str]) -> None:
    """``files``: path under ``src`` → city key."""
    for name, key in files.items():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(report_text(key), encoding="utf-8")


def documents(index: Path) -> dict[str, str]:
    """The current version's reports: id → path."""
    store = Store(current_version(index).path / "store.sqlite")
    try:
        return {str(d["id"]): str(d["path"]) for d in store.documents()}
    finally:
        store.close()


# --------------------------------------------------------------------------- probe 1: rebuild


@pytest.mark.slow
def test_rebuild_keeps_the_reports_of_a_folder_it_cannot_read(shared, embedder, readable_models):
    """Probe 1: a report folder whose subfolder cannot be read must not lose that subfolder's reports.

    They were listed as removed, the run published and exited 0 without a word. Now they are kept
    (under their own ids: src/z/b.txt stays b-2 and does not take over b), the folder is listed under
    skipped, and the run exits 1 unless --skip-bad.
    """
    from simkit.pipeline.rebuild import rebuild_index

    _need_unprivileged()
    src, index = shared / "src", shared / "index"
    write_reports(src, {"a.txt": "a", "2021/b.txt": "b", "2021/c.txt": "c", "z/b.txt": "d"})
    first = rebuild_index([src], index, embedder=embedder)
    assert first.status == "published"
    assert documents(index) == {"a": str(src / "a.txt"), "b": str(src / "2021/b.txt"),
                                "b-2": str(src / "z/b.txt"), "c": str(src / "2021/c.txt")}
    give_away(shared)
    (src / "2021").chmod(0)

    run = run_simkit(["rebuild", "src", "--index", "index", "--json"], cwd=shared, models=readable_models)
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["documents"]["removed"] == 0 and report["changes"]["removed"] == []
    assert report["changes"]["kept"] == ["b", "c"] and report["documents"]["unchanged"] == 2
    assert report["status"] == "unchanged"
    [skipped] = report["skipped"]
    assert skipped["file"] == "src/2021" and skipped["kind"] == "folder"
    assert skipped["reason"].startswith("src/2021: folder cannot be read (Permission denied)")
    assert run.stderr == ("Error: src/2021: cannot be read; the reports indexed from there were kept as they "
                          "were; fix the permissions or the path, or pass --skip-bad to exit as usual\n")
    assert set(documents(index)) == {"a", "b", "b-2", "c"}

    told = run_simkit(["rebuild", "src", "--index", "index", "--skip-bad"], cwd=shared, models=readable_models)
    assert told.returncode == 3, told.stdout + told.stderr  # nothing changed
    assert "Warning: skipped src/2021: folder cannot be read" in told.stderr


@pytest.mark.slow
def test_rebuild_keeps_the_reports_of_a_missing_source(tmp_path, embedder):
    """Probe 1: a source path that is gone (an unmounted share) does not delete its reports either."""
    from simkit.pipeline.rebuild import rebuild_index

    write_reports(tmp_path / "one", {"a.txt": "a"})
    write_reports(tmp_path / "two", {"b.txt": "b", "sub/c.txt": "c"})
    rebuild_index([tmp_path / "one", tmp_path / "two"], tmp_path / "index", embedder=embedder)
    (tmp_path / "two").rename(tmp_path / "elsewhere")
    report = rebuild_index([tmp_path / "one", tmp_path / "two"], tmp_path / "index", embedder=embedder)
    assert report.changes["kept"] == ["b", "c"] and not report.changes["removed"]
    assert [(s.kind, s.unlisted) for s in report.skipped] == [("missing", True)]
    assert report.status == "unchanged"


# --------------------------------------------------------------------------- probes 6 and 7: ingest and build


def test_ingest_reports_folders_it_cannot_read_or_search(shared):
    """Probes 6 and 7: ingest ignored a folder it could not read (chmod 000) without a word, and a
    folder it could read but not search (chmod 644) aborted it even with --skip-bad. Both are now
    errors naming the folder, and --skip-bad skips them and lists them."""
    src = shared / "src"
    write_reports(src, {"a.txt": "a", "2021/b.txt": "b", "2022/c.txt": "c"})
    give_away(shared)
    for folder, mode in (("2021", 0o000), ("2022", 0o644)):
        (src / folder).chmod(mode)
        run = run_simkit(["ingest", "src", "--out", "units.jsonl"], cwd=shared)
        assert run.returncode == 1, run.stdout + run.stderr
        assert run.stderr.startswith(f"Error: src/{folder}: folder cannot be read (Permission denied)")
        assert len(run.stderr.splitlines()) == 1 and not (shared / "units.jsonl").exists()

        skipped = run_simkit(["ingest", "src", "--out", "units.jsonl", "--skip-bad"], cwd=shared)
        assert skipped.returncode == 0, skipped.stdout + skipped.stderr
        assert f"Skipped: src/{folder}: folder cannot be read (Permission denied)" in skipped.stderr
        lines = (shared / "units.jsonl").read_text(encoding="utf-8").splitlines()
        assert {json.loads(line)["document"] for line in lines} == {"a", "c" if folder == "2021" else "b"}
        (src / folder).chmod(0o755)
        (shared / "units.jsonl").unlink()


@pytest.mark.slow
def test_build_lists_folders_it_cannot_read_or_search(shared, readable_models):
    """Probes 6 and 7: build skipped an unreadable folder silently and stopped at one it could not
    search; now it indexes the rest and lists both folders as errors (exit 1, as for bad files)."""
    src = shared / "src"
    write_reports(src, {"a.txt": "a", "2021/b.txt": "b", "2022/c.txt": "c"})
    give_away(shared)
    (src / "2021").chmod(0o000)
    (src / "2022").chmod(0o644)
    run = run_simkit(["build", "src", "--index", "index", "-q", "--json"], cwd=shared, models=readable_models)
    assert run.returncode == 1, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["documents"] == 1
    assert [(s["file"], s["kind"]) for s in result["skipped"]] == [("src/2021", "folder"), ("src/2022", "folder")]
    errors = run.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in errors] == ["src/2021", "src/2022"]
    assert set(documents(shared / "index")) == {"a"}


def test_collect_files_lists_what_it_cannot_read(tmp_path):
    """Probes 6 and 8: in a folder, FIFOs, sockets and broken links are listed as skipped (they were
    passed over silently); hidden files and folders are still left out; the order is rglob's."""
    import socket

    write_reports(tmp_path, {"b.txt": "b", "a/z.txt": "a", "a.txt": "c", "a-b/x.txt": "d", ".hidden/y.txt": "a"})
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "linked-folder").symlink_to(tmp_path / "a")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock.txt"))
        files, skipped = collect_files([tmp_path])
    names = [p.relative_to(tmp_path).as_posix() for p in files]
    assert names == ["a/z.txt", "a-b/x.txt", "a.txt", "b.txt"]  # link.txt is b.txt, read once
    assert names == [p.relative_to(tmp_path).as_posix() for p in sorted(files)]
    assert {Path(s.file).name: s.kind for s in skipped} == {"gone.txt": "file", "pipe.txt": "file",
                                                            "sock.txt": "file"}
    assert all(s.reason.startswith(s.file) for s in skipped)


# --------------------------------------------------------------------------- probe 8: not regular files


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    """Probe 8: opening a FIFO blocked until some writer came (forever, in a batch run)."""
    import threading

    fifo = tmp_path / "report.txt"
    os.mkfifo(fifo)

    def release() -> None:  # unblocks an old reader stuck in open(): it then reads an empty file
        with contextlib.suppress(OSError):  # nobody is waiting: the reader did not block
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(5, release)
    timer.start()
    try:
        with pytest.raises(InputError) as caught:
            read_document(fifo)
    finally:
        timer.cancel()
    assert str(caught.value) == f"{fifo}: not a regular file (a named pipe (FIFO)), not read; pass a report file"


def test_device_is_refused_before_reading():
    """Probe 8: a device was read like a file (/dev/null as an empty one; /dev/zero until memory ran
    out, see the next test)."""
    with pytest.raises(InputError) as caught:
        read_document("/dev/null")
    assert str(caught.value) == "/dev/null: not a regular file (a character device), not read; pass a report file"


def test_cli_parse_of_a_device_is_one_line(tmp_path):
    """Probe 8: `simkit parse /dev/zero` read until memory ran out; now one line and exit 1."""

    def cap_memory() -> None:  # a failing (old) run stops at 4 GiB instead of taking the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, resource.RLIM_INFINITY))

    run = subprocess.run([sys.executable, "-m", "simkit", "parse", "/dev/zero"], capture_output=True, text=True,
                         timeout=120, preexec_fn=cap_memory, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert run.returncode == 1
    assert run.stderr == "Error: /dev/zero: not a regular file (a character device), not read; pass a report file\n"


def test_socket_is_refused(tmp_path):
    """Probe 8: a socket named as a report is refused as such, not as a file that cannot be opened."""
    import socket

    path = tmp_path / "report.txt"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(InputError, match=r"not a regular file \(a socket\), not read"):
            read_document(path)


def test_file_in_a_folder_that_cannot_be_searched_is_skipped(shared):
    """Probe 7: a report named inside a folder without search permission raised a PermissionError out of
    the reader (Path.exists), which stopped `ingest --skip-bad`; it is now an unreadable file like any other."""
    src = shared / "src"
    write_reports(src, {"a.txt": "a", "2022/c.txt": "c"})
    give_away(shared)
    (src / "2022").chmod(0o644)
    run = run_simkit(["ingest", "src/2022/c.txt", "src/a.txt", "--out", "units.jsonl", "--skip-bad"], cwd=shared)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ("Skipped: src/2022/c.txt: cannot be reached (Permission denied); check the permissions "
                          "of the folders above it\n")
    lines = (shared / "units.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["document"] for line in lines} == {"a"}


# --------------------------------------------------------------------------- probe 23: a single path


def test_parse_reports_reserves_ids():
    """Ids of reports kept from a folder that cannot be read are given to no other file."""
    files = [EXAMPLES / "xiamen-2021.txt"]
    parsed, _, _ = parse_reports(files, reserved={"xiamen-2021"})
    assert [p.report.id for p in parsed] == ["xiamen-2021-2"]


@pytest.mark.slow
def test_build_index_takes_a_single_path(tmp_path, monkeypatch):
    """Probe 23: build_index("reports", …) iterated the string's characters ("r", "e", …; from "/" it
    walked the whole file system). A single str or path-like is now one path."""
    from simkit.pipeline.build import build_index

    write_reports(tmp_path / "reports", {"a.txt": "a", "sub/b.txt": "b"})
    monkeypatch.chdir(tmp_path)
    result = build_index("reports", "index")
    assert (result.documents, result.skipped) == (2, [])
    again = build_index(Path("reports") / "a.txt", "index")
    assert again.documents == 1
    assert documents(tmp_path / "index") == {"a": "reports/a.txt"}


def test_rebuild_index_takes_a_single_path(tmp_path, monkeypatch, embedder):
    """Probe 23: rebuild_index("reports", …) iterated the string's characters as for build_index."""
    from simkit.pipeline.rebuild import rebuild_index

    write_reports(tmp_path / "reports", {"a.txt": "a", "sub/b.txt": "b"})
    monkeypatch.chdir(tmp_path)
    report = rebuild_index("reports", "index", embedder=embedder)
    assert report.status == "published" and report.changes["added"] == ["a", "b"] and not report.skipped
    again = rebuild_index(tmp_path / "reports", tmp_path / "index", embedder=embedder)
    assert again.status == "unchanged"


def test_collect_files_takes_a_single_path_and_refuses_bytes(tmp_path, monkeypatch):
    """Probe 23, where build_index and rebuild_index collect their files."""
    write_reports(tmp_path / "reports", {"a.txt": "a"})
    monkeypatch.chdir(tmp_path)  # relative: the old code tried "r", "e", "p"… (from "/" it walked everything)
    assert collect_files("reports") == collect_files(Path("reports")) == ([Path("reports/a.txt")], [])
    with pytest.raises(TypeError):
        collect_files(b"reports")  # type: ignore[arg-type]
