"""Index integrity under damage, races and a full disk (issue 16, probes 11-18).

Every test works on a tiny index of three generated reports (built once per module through a
rebuild, so its embedding cache is full), copied per test. The disk-full tests mount a small
tmpfs (they need root, as CI runs, and fail saying why otherwise).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simkit.api import SimkitIndex, open_index
from simkit.cli import cli
from simkit.embedding.cache import CACHE_DIR, EmbeddingCache
from simkit.errors import IndexLoadError, SimkitError, WriteError
from simkit.pipeline.rebuild import rebuild_index
from simkit.pipeline.versions import list_versions, rollback
from simkit.store.layout import CURRENT, VERSIONS, current_version, published_versions
from simkit.store.manifest import CHECKSUM, MANIFEST, Manifest
from simkit.store.parts import IndexParts
from simkit.store.vectors import load_vector_index

PROJECT = Path(__file__).resolve().parent.parent
QUERY = "乡镇综合行政执法改革"
REGIONS = {"taishun": "泰顺县", "siping": "四平市", "shishi": "石狮市", "lishu": "梨树县"}
MEASURES = {  # distinct work in each report, so that nothing is flagged as shared boilerplate
    "taishun": ["在乡镇推行综合行政执法改革，一支队伍管执法，全年办理执法案件一百二十件。",
                "建成县级行政争议调解中心，化解行政争议四十余起。",
                "开展法治乡村示范创建，培育村级法律明白人三百名。"],
    "siping": ["推行一件事一次办，企业开办时间压缩到半个工作日。",
               "清理规范性文件二百余件，废止不适应改革要求的文件十二件。",
               "黑土地保护条例配套制度全部出台，农业执法检查覆盖全部乡镇。"],
    "shishi": ["行政机关负责人出庭应诉率达到百分之百，行政复议纠错率明显提高。",
               "服装产业知识产权保护中心受理维权案件六十件。",
               "海上综合执法与渔港管理联动，查处涉渔违法案件五十起。"],
    "lishu": ["为每个村配备法律顾问，村级公共法律服务工作室实现全覆盖。",
              "玉米收储领域开展专项执法检查，纠正不规范收购行为十余起。",
              "建立重大行政决策目录管理制度，公开征求意见十八次。"],
}


def _report(stem: str) -> str:
    """A short report: an overview, three measures (a heading and a paragraph each) and a plan."""
    region = REGIONS[stem]
    items = "\n\n".join(f"（{n}）{text.split('，')[0]}\n{region}{text}今年继续巩固这项工作的成效。"
                         for n, text in zip("一二三", MEASURES[stem]))
    return (f"{region}人民政府关于2023年法治政府建设情况的报告\n\n"
            f"2023年，{region}深入推进法治政府建设，现将有关情况报告如下。\n\n"
            f"一、主要举措和成效\n\n{items}\n\n二、下一步工作打算\n\n"
            f"{region}将围绕{MEASURES[stem][0][:12]}持续用力，推动各项工作取得新进展。\n")


# --------------------------------------------------------------------------- fixtures and helpers


def _write_report(src: Path, stem: str) -> Path:
    path = src / f"{stem}-2023.txt"
    path.write_text(_report(stem), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, embedder) -> Path:
    """Sources (three tiny reports) and an index rebuilt from them, its embedding cache full."""
    base = tmp_path_factory.mktemp("tiny")
    (base / "src").mkdir()
    for stem in ("taishun", "siping", "shishi"):
        _write_report(base / "src", stem)
    report = rebuild_index([base / "src"], base / "index", embedder=embedder)
    assert report.status == "published" and report.units.total > 10
    return base


@pytest.fixture()
def tiny(tiny_base, tmp_path) -> tuple[Path, Path]:
    """A private copy of the tiny sources and index: (src, index)."""
    shutil.copytree(tiny_base, tmp_path / "w")
    return tmp_path / "w" / "src", tmp_path / "w" / "index"


def _one_line_naming(exc: BaseException, *files: Path) -> None:
    """A SimkitError whose message is one line and names one of ``files``."""
    assert isinstance(exc, SimkitError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert "\n" not in message and message.strip() == message, message
    assert any(str(f) in message for f in files), f"{message!r} names none of {files}"


def _searches(index: Path, embedder, mode: str = "hybrid") -> bool:
    """Whether the current version answers a search (hybrid: FAISS and the BM25 files are both read)."""
    with SimkitIndex(index, embedder=embedder) as handle:
        return bool(handle.search(QUERY, k=2, mode=mode).regions)


def _leftovers(index: Path) -> list[str]:
    """Temporary files and directories a writer should never leave behind."""
    found = [str(p.relative_to(index)) for p in index.rglob("*")
             if p.name.startswith(".") or p.name.endswith((".tmp", "-journal", "-wal"))]
    return sorted(found)


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _cli_error_line(result, *files: Path, code: int = 1) -> str:
    """The single ``Error: …`` line of a failed command (no traceback), naming one of ``files``."""
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert any(str(f) in errors[0] for f in files), errors[0]
    return errors[0]


# --------------------------------------------------------------------------- probe 11: the manifest's own checksum


def _old_format(version_dir: Path, edit) -> None:
    """Rewrite a version's manifest as an older simkit would have (no checksum file), after ``edit(data)``."""
    data = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    edit(data)
    (version_dir / MANIFEST).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (version_dir / CHECKSUM).unlink(missing_ok=True)


def test_manifest_has_a_checksum_and_an_edited_manifest_is_refused(tiny):
    """Probe 11: one edited field of manifest.json (here the document count) was accepted silently."""
    _, index = tiny
    version = current_version(index)
    checksum = (version.path / CHECKSUM).read_text(encoding="ascii")
    assert checksum.endswith(f"  {MANIFEST}\n") and len(checksum.split()[0]) == 64  # sha256sum's format
    path = version.path / MANIFEST
    path.write_bytes(path.read_bytes().replace(b'"documents": 3', b'"documents": 2'))
    with pytest.raises(IndexLoadError) as caught:
        IndexParts.open(index)
    _one_line_naming(caught.value, path)
    assert "checksum mismatch" in str(caught.value)


def test_a_version_without_a_manifest_checksum_is_read_as_before(tiny, embedder):
    """Versions written before manifests had a checksum (no manifest.sha256) still open, unverified."""
    _, index = tiny
    _old_format(current_version(index).path, lambda data: None)
    assert _searches(index, embedder)
    assert [v.problem for v in list_versions(index)] == [None]


SCHEMA_DAMAGE = {
    "count as a string": lambda d: d["counts"].update(vectors=str(d["counts"]["vectors"])),
    "negative count": lambda d: d["counts"].update(documents=-1),
    "count as a float": lambda d: d["counts"].update(paragraphs=1.5),
    "count as a boolean": lambda d: d["counts"].update(documents=True),
    "missing count": lambda d: d["counts"].pop("units"),
    "missing model dimension": lambda d: d["model"].pop("dimension"),
    "model id null": lambda d: d["model"].update(id=None),
    "model as a list": lambda d: d.update(model=[]),
    "files as a list": lambda d: d.update(files=[]),
    "short sha256": lambda d: next(iter(d["files"].values())).update(sha256="abc"),
    "upper-case sha256": lambda d: next(iter(d["files"].values())).update(
        sha256=next(iter(d["files"].values()))["sha256"].upper()),
    "bytes as a string": lambda d: next(iter(d["files"].values())).update(bytes="12"),
    "file outside the version": lambda d: d["files"].update({"../../CURRENT": {"sha256": "0" * 64, "bytes": 1}}),
    "format version as a string": lambda d: d.update(format_version="1"),
    "format version missing": lambda d: d.pop("format_version"),
    "unknown embed context": lambda d: d.update(embed_context="sectiom"),
    "vectors differ from units": lambda d: d["counts"].update(vectors=d["counts"]["vectors"] + 1),
    "ntotal differs from vectors": lambda d: d["index"].update(ntotal=0),
    "latent head not a sha256": lambda d: d["latent_terms"].update(head_sha256="x" * 64),
    "versions entry a number": lambda d: d["versions"].update(simkit=1),
    "not an object": lambda d: d.clear() or d.update({"\n": 1}),
}


@pytest.mark.parametrize("damage", list(SCHEMA_DAMAGE))
def test_manifest_fields_are_checked_against_the_schema(tiny, damage):
    """Probe 11: a manifest of the wrong shape was served (wrong counts) or failed with a bare KeyError.

    Checked on old-format manifests (no checksum), where the schema is the only defence.
    """
    _, index = tiny
    version = current_version(index)
    _old_format(version.path, SCHEMA_DAMAGE[damage])
    with pytest.raises(IndexLoadError) as caught:
        IndexParts.open(index)
    _one_line_naming(caught.value, version.path / MANIFEST)
    result = _cli("info", "--index", str(index))
    _cli_error_line(result, version.path / MANIFEST)


def test_a_newer_format_is_refused_with_its_number(tiny):
    _, index = tiny
    version = current_version(index)
    _old_format(version.path, lambda d: d.update(format_version=3))
    with pytest.raises(IndexLoadError, match="index format 3 is not supported"):
        IndexParts.open(index)


def test_a_format_1_version_is_still_read(tiny, embedder):
    """Versions written before approximate indexes and int8 sentences (format 1) open and search as before."""
    _, index = tiny
    _old_format(current_version(index).path, lambda d: d.update(format_version=1))
    assert _searches(index, embedder)
    assert current_version(index).manifest.format_version == 1


# --------------------------------------------------------------------------- the fuzz test (manifest and CURRENT)

FUZZ_SEED = 1616


def _mutations(original: bytes, rng: random.Random, *, flips: int | None, truncations: int | None,
               junk: int) -> list[tuple[str, bytes]]:
    """Damaged copies of ``original``: bit flips (all of them when ``flips`` is None), truncations (all
    lengths when None), junk bytes replacing or inserted into it, and an empty file."""
    bits = [(pos, bit) for pos in range(len(original)) for bit in range(8)]
    cases = []
    for pos, bit in bits if flips is None else rng.sample(bits, flips):
        damaged = bytearray(original)
        damaged[pos] ^= 1 << bit
        cases.append((f"flip byte {pos} bit {bit}", bytes(damaged)))
    lengths = range(len(original)) if truncations is None else rng.sample(range(len(original)), truncations)
    cases += [(f"truncated to {n} bytes", original[:n]) for n in lengths]
    for i in range(junk):
        noise = rng.randbytes(rng.randrange(1, 48))
        at = rng.randrange(len(original))
        cases.append((f"junk {i} replacing", noise) if i % 2 else (f"junk {i} inserted at {at}",
                                                                     original[:at] + noise + original[at:]))
    cases.append(("empty", b""))
    return cases


def test_fuzz_current_and_manifest(tiny, embedder):
    """Must show (probes 11, 13, 14, 15): seeded damage to CURRENT, manifest.json and manifest.sha256.

    Every case either opens, and then the content is the original (CURRENT: the same name, give or
    take surrounding whitespace; manifest: byte-identical), or is refused with a SimkitError whose
    message is one line naming the damaged file; never another exception. ``simkit versions``
    (list_versions) works in every case, and a sample of CURRENT cases is repaired by ``rollback``.
    """
    _, index = tiny
    version = current_version(index)
    other = _other_index(index)  # a valid index next door: CURRENT must not lead into it
    pointer = index / CURRENT
    files = {path: path.read_bytes() for path in (pointer, version.path / MANIFEST, version.path / CHECKSUM)
             if path.exists()}  # (simkit before the fix wrote no manifest.sha256)
    rng = random.Random(FUZZ_SEED)
    name = version.name.encode()
    outside = [b"../../other/index/versions/" + name, str(other / VERSIONS / version.name).encode(),
               b"versions/" + name, b"./" + name, name + b"/../" + name, b"..", b".", b"../" + name + b"\n",
               name + b"\x00", b"%s\n%s\n" % (name, name)]
    plan = [(pointer, case) for case in _mutations(files[pointer], rng, flips=None, truncations=None, junk=20)]
    plan += [(pointer, (f"path {p!r}", p)) for p in outside]
    plan += [(version.path / MANIFEST, case)
             for case in _mutations(files[version.path / MANIFEST], rng, flips=300, truncations=30, junk=20)]
    if version.path / CHECKSUM in files:
        plan += [(version.path / CHECKSUM, case)
                 for case in _mutations(files[version.path / CHECKSUM], rng, flips=40, truncations=None, junk=6)]
    assert len(plan) > 600
    opened = refused = 0
    for n, (target, (what, content)) in enumerate(plan):
        for path, data in files.items():
            path.write_bytes(data)
        target.write_bytes(content)
        if target == pointer:
            same = content.strip(b" \t\r\n") == name
        else:  # the checksum file without its final newline is still the same line
            same = content.rstrip(b"\n") == files[target].rstrip(b"\n") if target.name == CHECKSUM \
                else content == files[target]
        try:
            parts = IndexParts.open(index)
        except Exception as exc:  # noqa: BLE001 - anything but a one-line SimkitError fails the test
            assert not same, f"{target.name} {what}: refused intact content: {exc}"
            try:
                _one_line_naming(exc, target)
            except AssertionError as problem:
                raise AssertionError(f"{target.name} {what}: {problem}") from exc
            refused += 1
        else:
            parts.close()
            assert same, f"{target.name} {what}: damaged content was served silently"
            assert parts.version.name == version.name and parts.version.path == version.path
            opened += 1
        listed = list_versions(index)  # the repair tools work whatever the damage
        assert [v.name for v in listed] == [version.name]
        if target == pointer and not same and n % 16 == 0:
            assert rollback(index) == (None, version.name)
            assert pointer.read_bytes().strip() == name
    assert refused > 700 and opened == 2  # CURRENT and manifest.sha256 without their final newline
    for path, data in files.items():
        path.write_bytes(data)
    assert _searches(index, embedder)
    assert _searches(other, embedder)


# --------------------------------------------------------------------------- probe 12: a version that does not open


def _break_vector_count(version_dir: Path) -> None:
    """Make the manifest claim one vector more (consistently, with a valid checksum): files all verify,
    but the version does not open, since the FAISS index holds one vector less."""
    data = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    for section, key in (("counts", "vectors"), ("counts", "units"), ("index", "ntotal")):
        data[section][key] += 1
    Manifest.from_dict(data).write(version_dir)


def test_rebuild_replaces_a_current_version_that_does_not_open(tiny, embedder):
    """Probe 12: a version passing its checksums but not opening was answered "Nothing changed" (exit 3)."""
    src, index = tiny
    before = current_version(index)
    _break_vector_count(before.path)
    with pytest.raises(IndexLoadError, match="vectors"):
        IndexParts.open(index)
    result = _cli("rebuild", str(src), "--index", str(index), "-q")
    assert result.exit_code == 0, result.output
    assert "current version unusable" in result.output
    after = current_version(index)
    assert after.name != before.name
    assert _searches(index, embedder)
    # And now there is nothing to do.
    assert _cli("rebuild", str(src), "--index", str(index), "-q").exit_code == 3


# --------------------------------------------------------------------------- probes 13-15: a broken CURRENT

BROKEN_POINTERS = {
    "binary junk": b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01",
    "empty": b"",
    "path into another index": None,  # ../../other/index/versions/<name>, filled in by the test
    "absolute path": None,
    "missing version": b"v20200101T000000000Z-1-abcd\n",
}


def _other_index(index: Path) -> Path:
    """A copy of ``index`` at ``../other/index``: where ``../../other/index/versions/…`` in CURRENT leads."""
    other = index.parent / "other" / "index"
    if not other.exists():
        shutil.copytree(index, other)
    return other


def _break_pointer(index: Path, how: str) -> Path:
    """Damage CURRENT as ``how`` says; for the paths, a valid index lies where they lead. Returns CURRENT."""
    content = BROKEN_POINTERS[how]
    if content is None:
        other = _other_index(index)
        name = current_version(other).name
        content = (f"../../other/index/{VERSIONS}/{name}\n" if how.startswith("path")
                   else f"{other / VERSIONS / name}\n").encode()
    (index / CURRENT).write_bytes(content)
    return index / CURRENT


@pytest.mark.parametrize("how", list(BROKEN_POINTERS))
def test_a_broken_current_is_reported_and_every_repair_command_works(tiny, embedder, how):
    """Probes 13, 14, 15: junk in CURRENT gave a UnicodeDecodeError traceback in every command (rollback and
    rebuild included); an empty CURRENT recommended rollback, which then failed like `versions`; a CURRENT
    leading outside the index was served."""
    src, index = tiny
    good = current_version(index).name
    pointer = _break_pointer(index, how)
    line = _cli_error_line(_cli("search", QUERY, "--index", str(index)), pointer)
    assert "simkit rollback" in line
    _cli_error_line(_cli("info", "--index", str(index)), pointer)
    listed = _cli("versions", "--index", str(index))
    assert listed.exit_code == 0, listed.output
    assert good in listed.output and f"Warning: {pointer}" in listed.output and "*" not in listed.output
    repaired = _cli("rollback", "--index", str(index))
    assert repaired.exit_code == 0, repaired.output
    assert (index / CURRENT).read_text(encoding="ascii") == good + "\n"
    assert _searches(index, embedder)


@pytest.mark.parametrize("how", ["binary junk", "path into another index"])
def test_rollback_to_a_named_version_and_rebuild_repair_a_broken_current(tiny, embedder, how):
    """Probes 13-15: `rollback VERSION` and `rebuild` work when CURRENT is broken."""
    src, index = tiny
    first = current_version(index).name
    second = rebuild_index([src], index, embedder=embedder, force=True).version
    pointer = _break_pointer(index, how)
    result = _cli("rollback", first, "--index", str(index))
    assert result.exit_code == 0, result.output
    assert current_version(index).name == first
    _break_pointer(index, how)
    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "published" and report.version not in (first, second)
    assert any(str(pointer) in w for w in report.warnings)
    assert _searches(index, embedder)


def test_rollback_without_a_version_picks_the_newest_that_verifies(tiny, embedder):
    """Probe 14: with CURRENT broken, `rollback` serves the newest published version that passes its checks."""
    src, index = tiny
    first = current_version(index).name
    second = rebuild_index([src], index, embedder=embedder, force=True).version
    damaged = index / VERSIONS / second / "store.sqlite"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    _break_pointer(index, "empty")
    assert rollback(index) == (None, first)
    assert _searches(index, embedder)


# --------------------------------------------------------------------------- probe 16: the embedding cache


def _cached_vectors(index: Path) -> Path:
    return next((index / CACHE_DIR).glob("embeddings-*.sqlite"))


def test_damaged_cache_rows_are_recomputed_with_a_warning(tiny, embedder):
    """Probe 16: 20 negated vectors in the embedding cache went into a new version and validation passed."""
    src, index = tiny
    before = current_version(index)
    expected = load_vector_index(before.path / "vectors.faiss")
    expected = expected.reconstruct_n(0, expected.ntotal)
    cache = _cached_vectors(index)
    size = 4 * embedder.dimension
    with sqlite3.connect(cache) as db:  # every row (the probe negated 20), so that unit vectors are among them
        rows = db.execute("SELECT key, vector FROM vectors").fetchall()
        assert len(rows) >= 20
        for key, blob in rows:  # negate the vector, keep whatever follows it
            negated = (-np.frombuffer(blob[:size], dtype=np.float32)).tobytes()
            db.execute("UPDATE vectors SET vector = ? WHERE key = ?", (negated + blob[size:], key))
    report = rebuild_index([src], index, embedder=embedder, force=True)
    assert report.status == "published"
    assert any(str(cache) in w and "checksum" in w for w in report.warnings), report.warnings
    stored = load_vector_index(current_version(index).path / "vectors.faiss")
    assert np.allclose(stored.reconstruct_n(0, stored.ntotal), expected, atol=1e-6)
    # The damaged rows were replaced: the next rebuild finds nothing wrong.
    again = rebuild_index([src], index, embedder=embedder, force=True)
    assert not [w for w in again.warnings if "checksum" in w]


def test_cache_rows_of_an_older_simkit_are_misses_and_get_replaced(tmp_path):
    """Probe 16: a cache written before rows had a checksum stays usable: its rows are recomputed, not trusted."""
    path = tmp_path / "cache.sqlite"
    vector = np.arange(4, dtype=np.float32)
    with sqlite3.connect(path) as db:  # the layout of the older cache: raw float32 bytes, no digest
        db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                         "CREATE TABLE vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("model_id", "m"), ("dimension", "4")])
        db.execute("INSERT INTO vectors VALUES ('old', ?)", (vector.tobytes(),))
    db.close()
    with EmbeddingCache(path, "m", 4) as cache:
        assert cache.get_many(["old"]) == {} and cache.unchecked == 1 and cache.damaged == 0
        cache.put_many(["old"], vector[None, :])
        assert np.array_equal(cache.get_many(["old"])["old"], vector)
        assert len(cache) == 1


# --------------------------------------------------------------------------- probe 17: pruning under readers


def test_a_version_open_in_a_reader_is_not_pruned(tiny, embedder):
    """Probe 17: with --keep 1 a rebuild removed the version a reader had open; its next lexical search
    failed with "lexical index file missing; rebuild the index"."""
    src, index = tiny
    reader = open_index(index)
    held = reader.version.name
    try:
        report = rebuild_index([src], index, embedder=embedder, force=True, keep=1)
        assert held not in report.pruned and (index / VERSIONS / held).is_dir()
        assert reader.search(QUERY, k=2, mode="lexical").regions  # reads lexical.* now, from its own version
        assert reader.reload() is True
    finally:
        reader.close()
    report = rebuild_index([src], index, embedder=embedder, force=True, keep=1)
    assert held in report.pruned and not (index / VERSIONS / held).exists()
    assert published_versions(index) == [report.version]


READER_LOOP = """
import json, sys, time
from simkit.api import SimkitIndex
from simkit.embedding.embedder import Embedder
index, log, query, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
embedder = Embedder.load()
with open(log, "a", buffering=1) as out:
    while True:
        try:
            with SimkitIndex(index, embedder=embedder) as handle:
                time.sleep(pause)  # a rebuild may publish and prune meanwhile
                regions = handle.search(query, k=2, mode="lexical").regions
                out.write(json.dumps({"version": handle.version.name, "regions": len(regions)}) + "\\n")
        except Exception as exc:
            out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\\n")
"""


def _reader_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lines(log: Path) -> list[dict]:
    text = log.read_text(encoding="utf-8")
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]


def _wait(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_searches_during_rebuilds_with_keep_1_never_fail(tiny, embedder, tmp_path):
    """Probe 17: real concurrent readers (two processes, opening, pausing, then searching lexically) while
    rebuilds publish and prune with --keep 1: no search fails, and only unused versions are removed."""
    src, index = tiny
    logs = [tmp_path / f"reader{i}.jsonl" for i in range(2)]
    readers = []
    for i, log in enumerate(logs):
        log.touch()
        readers.append(subprocess.Popen([sys.executable, "-c", READER_LOOP, str(index), str(log), QUERY,
                                         str(0.05 + 0.1 * i)], env=_reader_env()))
    try:
        _wait(lambda: all(len(_lines(log)) >= 2 for log in logs), "the readers to start")
        versions = set()
        for _ in range(4):
            seen = sum(len(_lines(log)) for log in logs)
            report = rebuild_index([src], index, embedder=embedder, force=True, keep=1)
            versions.add(report.version)
            _wait(lambda seen=seen: sum(len(_lines(log)) for log in logs) >= seen + 4, "more searches")
    finally:
        for reader in readers:
            reader.kill()
            reader.wait()
    records = [r for log in logs for r in _lines(log)]
    assert [r for r in records if "error" in r] == []
    assert all(r["regions"] for r in records) and len(records) >= 20
    assert {r["version"] for r in records} & versions  # the readers moved on to the new versions
    # Once nobody reads them, the next rebuild removes what is not current.
    report = rebuild_index([src], index, embedder=embedder, force=True, keep=1)
    assert published_versions(index) == [report.version]


HOLDING_READER = """
import sys
from simkit.api import open_index
handle = open_index(sys.argv[1])
print(handle.version.name, flush=True)
sys.stdin.readline()  # the test rebuilds meanwhile
print(len(handle.search(sys.argv[2], k=2, mode="lexical").regions), flush=True)
handle.close()
"""


@pytest.mark.slow
def test_a_reader_of_another_user_keeps_its_version(embedder, tmp_path):
    """Probe 17, as a non-root reader (nobody): it can take the shared lock on a version it may only read,
    and a rebuild as root with --keep 1 leaves that version in place until the reader closes it. A version
    without a lock file (an older simkit's) stays readable by a reader who cannot create one."""
    assert os.geteuid() == 0 and Path("/usr/bin/setpriv").exists(), \
        "needs root and setpriv to run the reader as another user (CI runs as root)"
    shared = Path(tempfile.mkdtemp(prefix="simkit-h16-"))  # pytest's tmp_path is private to root
    try:
        shared.chmod(0o755)
        (shared / "home").mkdir()
        (shared / "home").chmod(0o777)
        src = shared / "src"
        src.mkdir()
        for stem in ("taishun", "siping"):
            _write_report(src, stem)
        index = shared / "index"
        rebuild_index([src], index, embedder=embedder)
        reader = subprocess.Popen(
            ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             sys.executable, "-c", HOLDING_READER, str(index), QUERY],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_reader_env() | {"HOME": str(shared / "home"), "SIMKIT_CACHE_DIR": str(shared / "home" / "jieba")})
        try:
            held = reader.stdout.readline().strip()
            assert held == current_version(index).name, reader.stderr.read()
            report = rebuild_index([src], index, embedder=embedder, force=True, keep=1)
            assert held not in report.pruned and (index / VERSIONS / held).is_dir()
            out, err = reader.communicate("go\n", timeout=120)
            assert reader.returncode == 0, err
            assert int(out.strip()) > 0
        finally:
            reader.kill()
            reader.wait()
        report = rebuild_index([src], index, embedder=embedder, force=True, keep=1)
        assert held in report.pruned
        # A version of an older simkit has no readers.lock, and this reader may not create one: it still reads.
        (current_version(index).path / "readers.lock").unlink()
        done = subprocess.run(
            ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             sys.executable, "-c", HOLDING_READER, str(index), QUERY],
            input="go\n", capture_output=True, text=True, timeout=120,
            env=_reader_env() | {"HOME": str(shared / "home"), "SIMKIT_CACHE_DIR": str(shared / "home" / "jieba")})
        assert done.returncode == 0, done.stderr
        assert int(done.stdout.split()[-1]) > 0
        assert not (current_version(index).path / "readers.lock").exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# --------------------------------------------------------------------------- probe 18: a full disk


@pytest.fixture()
def small_disk(tmp_path):
    """A 6 MiB tmpfs mounted for the test (unmounted afterwards)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    assert os.geteuid() == 0, "mounting a tmpfs needs root (CI runs as root)"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6M", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.strip()}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _free(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def _fill(disk: Path, leave: int) -> None:
    """Write a filler file so that about ``leave`` bytes stay free."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, _free(disk) - leave))


@pytest.mark.slow
def test_rebuild_on_a_full_disk_fails_in_one_line_and_the_previous_version_serves(tiny, embedder, small_disk):
    """Probe 18: a full disk gave FAISS and SQLite tracebacks, or "Error: file system: N requested and M
    written" without the file name, and left temporary files behind.

    The rebuild (one report added) runs with less and less space left, so that it fails while writing
    each of the files in turn (cache, vectors, store, lexical, sentences, clusters, manifest, the pointer,
    the report); every failure is a WriteError naming a file of the index, and nothing is left behind.
    """
    src, base = tiny
    _write_report(src, "lishu")
    index = small_disk / "index"
    shutil.copytree(base, index)
    start = _free(small_disk)
    measured = rebuild_index([src], index, embedder=embedder)  # how much space one rebuild needs
    need = start - _free(small_disk)
    assert measured.status == "published" and need > 0
    failures: dict[str, int] = {}
    published = 0
    for fraction in [i / 30 for i in range(30)] + [0.99, 1.0, 1.01, 1.02, 1.03, 1.05, 1.1, 1.2, 1.5, 2.0]:
        shutil.rmtree(index)
        (small_disk / "filler").unlink(missing_ok=True)
        shutil.copytree(base, index)
        serving = current_version(index).name
        _fill(small_disk, int(need * fraction))
        try:
            report = rebuild_index([src], index, embedder=embedder)
        except WriteError as exc:
            _one_line_naming(exc, index)
            failed = Path(str(exc).split(": ")[0]).name
            failures[failed] = failures.get(failed, 0) + 1
            if failed == "last_rebuild.json":  # the report comes after the swap
                assert current_version(index).name != serving and "was published and serves" in str(exc)
            else:
                assert current_version(index).name == serving and f"version {serving} still serves" in str(exc)
        else:
            assert report.status == "published"
            published += 1
        assert _leftovers(index) == []
        (small_disk / "filler").unlink()
        assert _searches(index, embedder)
    assert len(failures) >= 5 and published, failures  # failed on many different files, and had room at last


@pytest.mark.slow
def test_build_and_rebuild_commands_on_a_full_disk_print_one_error_line(tiny, embedder, small_disk):
    """Probe 18: the commands end with one `Error:` line naming the file, exit 1, leave no temporary file."""
    src, base = tiny
    index = small_disk / "index"
    shutil.copytree(base, index)
    serving = current_version(index).name
    _write_report(src, "lishu")
    _fill(small_disk, 64 * 1024)
    for command in (["rebuild", str(src), "--index", str(index), "-q"],
                    ["build", str(src), "--index", str(index), "-q"]):
        line = _cli_error_line(_cli(*command), index)
        assert "no space left" in line and f"version {serving} still serves" in line
        assert _leftovers(index) == [] and current_version(index).name == serving
    (small_disk / "filler").unlink()
    assert _searches(index, embedder)
