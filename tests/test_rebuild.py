"""Nightly rebuilds: incremental embedding, validated atomic swaps, locking, crash recovery, rollback.

Fault-injection tests run real `simkit rebuild` processes, stop them at a named stage with the
SIMKIT_FAULT_PAUSE testing hook and kill them with SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simkit.api import open_index
from simkit.cli import cli
from simkit.embedding.embedder import Embedder
from simkit.errors import IndexLoadError, LockedError, ValidationError, WriteError
from simkit.pipeline.rebuild import rebuild_index
from simkit.pipeline.versions import rollback
from simkit.reading.segment import embedding_text
from simkit.store.database import Store
from simkit.store.layout import (
    CURRENT,
    LOCK,
    VERSIONS,
    IndexLock,
    _write_pointer_tmp,
    current_version,
    prune,
    published_versions,
    recover,
)
from simkit.store.manifest import Manifest
from simkit.store.vectors import build_vector_index, load_vector_index, save_vector_index

QUERY = "在乡镇推行一支队伍管执法的综合执法改革"
PROJECT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="session")
def rebuilt_base(tmp_path_factory, demo_index_dir, examples_dir, embedder) -> Path:
    """Sources (the five example reports) and an index rebuilt from them whose cache holds every vector.

    The rebuild embeds nothing: it seeds the cache from the demo index's own vectors.
    """
    base = tmp_path_factory.mktemp("rebuild-base")
    shutil.copytree(examples_dir, base / "src")
    shutil.copytree(demo_index_dir, base / "index")
    report = rebuild_index([base / "src"], base / "index", embedder=embedder, force=True)
    assert report.units.embedded == 0 and report.units.reused == report.units.total > 100
    assert report.latent_terms.embedded == 0 and report.latent_terms.reused == report.units.total
    return base


@pytest.fixture()
def work(rebuilt_base, tmp_path) -> tuple[Path, Path]:
    """A private copy of the sources and the index: (src, index)."""
    shutil.copytree(rebuilt_base, tmp_path / "w")
    return tmp_path / "w" / "src", tmp_path / "w" / "index"


def _variant(src: Path, name: str = "lishu-2023.txt") -> Path:
    """A new report: the 四平市 report told by another county (a few paragraphs get new text)."""
    text = (src / "siping-2023.txt").read_text(encoding="utf-8").replace("四平", "梨树")
    target = src / name
    target.write_text(text, encoding="utf-8")
    return target


def _sentences(index_dir: Path, version: str | None = None, document: str | None = None) -> set[str]:
    """The evidence sentences of a version's units, optionally of one report."""
    from simkit.store.sentences import split_sentences

    name = version or current_version(index_dir).name
    store = Store(index_dir / VERSIONS / name / "store.sqlite")
    try:
        units = store.units_at(range(store.counts()["units"])).values()
        return {u.text[s:e] for u in units if document is None or u.document_id == document
                for s, e in split_sentences(u.text)}
    finally:
        store.close()


def _raw_texts(index_dir: Path, version: str | None = None, document: str | None = None) -> set[str]:
    """The texts of a version's units, without outline titles, optionally of one report."""
    name = version or current_version(index_dir).name
    store = Store(index_dir / VERSIONS / name / "store.sqlite")
    try:
        units = store.units_at(range(store.counts()["units"])).values()
        return {u.text for u in units if document is None or u.document_id == document}
    finally:
        store.close()


def _texts(index_dir: Path, version: str | None = None, document: str | None = None) -> set[str]:
    """The embedded texts (outline titles + text) of a version's units, optionally of one report."""
    name = version or current_version(index_dir).name
    store = Store(index_dir / VERSIONS / name / "store.sqlite")
    try:
        total = store.counts()["units"]
        units = store.units_at(range(total)).values()
        from simkit.reading.records import Paragraph

        return {embedding_text(Paragraph(u.id, u.document_id, u.section, u.text, u.start, u.end, u.kind))
                for u in units if document is None or u.document_id == document}
    finally:
        store.close()


def _search_json(index_dir: Path) -> dict:
    result = CliRunner().invoke(cli, ["search", QUERY, "--index", str(index_dir), "--json", "-k", "5"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"rebuild exited with {process.returncode} before pausing: {err[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"rebuild did not reach {path.name} in {timeout} s")
        time.sleep(0.05)


def _plain(data: dict) -> dict:
    """As read back from JSON (tuples become lists)."""
    return json.loads(json.dumps(data, ensure_ascii=False))


def _leftovers(index_dir: Path) -> list[str]:
    found = [p.name for p in (index_dir / VERSIONS).iterdir() if p.name.startswith(".")]
    found += [p.name for p in index_dir.glob(f".{CURRENT}.*")]
    return found


# --------------------------------------------------------------------------- incremental


def test_adding_a_report_embeds_only_its_new_units(work, embedder):
    src, index = work
    before = current_version(index).name
    old_texts = _texts(index)
    _variant(src)
    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "published" and report.previous == before
    assert (report.documents.added, report.documents.changed, report.documents.removed,
            report.documents.unchanged) == (1, 0, 0, 5)
    assert report.changes["added"] == ["lishu-2023"]
    new_texts = _texts(index, document="lishu-2023")
    assert report.units.distinct_embedded == len(new_texts - old_texts) > 0
    assert report.units.distinct_embedded < len(new_texts)  # its unchanged paragraphs came from the cache
    assert report.units.reused == report.units.total - report.units.embedded
    # Evidence sentences too: only sentences no earlier version had go through the model.
    new_sentences = _sentences(index, document="lishu-2023") - _sentences(index, version=before)
    assert report.sentences.distinct_embedded == len(new_sentences) > 0
    assert report.sentences.reused == report.sentences.total - report.sentences.embedded
    # And latent terms, computed from a unit's own text (without outline titles).
    old_raw = _raw_texts(index, version=before)
    assert report.latent_terms.distinct_embedded == len(_raw_texts(index, document="lishu-2023") - old_raw) > 0
    assert report.latent_terms.reused == report.latent_terms.total - report.latent_terms.embedded
    with open_index(index) as fresh:
        assert fresh.version.name == report.version
        assert fresh.info().counts["documents"] == 6
        hit = fresh.search("梨树", k=1, mode="dense").regions[0].hits[0]
        assert hit.evidence is not None


def test_touching_a_file_embeds_nothing(work, embedder):
    src, index = work
    before = current_version(index).name
    later = time.time() + 60
    os.utime(src / "xiamen-2021.txt", (later, later))
    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "unchanged"
    assert report.version == before == current_version(index).name
    assert report.units.embedded == 0
    assert report.documents.unchanged == 5
    counts = current_version(index).manifest.counts
    assert report.units.total == report.units.reused == counts["units"] > 0
    assert report.sentences.total == report.sentences.reused == counts["sentences"] > 0
    assert report.latent_terms.total == report.latent_terms.reused == counts["units"]


def test_sentences_embedded_before_they_had_their_own_prompt_are_embedded_again(work, embedder):
    """A version whose manifest does not say its sentences carry the query prompt (written by an earlier
    simkit, as passages): a rebuild re-embeds them, even with no report changed, and keeps the units."""
    from simkit.embedding.cache import CACHE_DIR

    src, index = work
    version = current_version(index)
    manifest = json.loads((version.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest.pop("sentence_prompt") == "query"
    Manifest.from_dict(manifest).write(version.path)  # with its checksum, as simkit writes it
    shutil.rmtree(index / CACHE_DIR)  # nothing cached: the previous version is the only source
    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "published"
    assert any("embedded with another prompt" in w for w in report.warnings)
    assert report.units.embedded == 0 and report.units.reused == report.units.total
    assert report.sentences.embedded == report.sentences.total > 0
    assert current_version(index).manifest.sentence_prompt == "query"
    # And the next rebuild has nothing to do.
    assert rebuild_index([src], index, embedder=embedder).status == "unchanged"


def test_cache_keys_tell_prompts_apart_and_passage_keys_are_unchanged(tmp_path):
    import hashlib

    from simkit.embedding.cache import EmbeddingCache

    with EmbeddingCache(tmp_path / "cache.sqlite", "intfloat/multilingual-e5-small", 384) as cache:
        text = "推行“一件事一次办”"
        legacy = hashlib.sha256(f"intfloat/multilingual-e5-small\n{text}".encode()).hexdigest()
        assert cache.key(text) == cache.key(text, "passage") == legacy
        assert cache.key(text, "query") != legacy


def test_a_sentence_is_not_served_the_vector_cached_for_the_same_text_as_a_passage(tmp_path, embedder):
    from simkit.embedding.cache import EmbeddingCache, runtime_prompt
    from simkit.pipeline.rebuild import UnitCounts, _Stages, _vectors_for

    text = "推行高频事项“一件事一次办”主题服务"
    stale = np.full((1, embedder.dimension), 1.0 / np.sqrt(embedder.dimension), dtype=np.float32)
    with EmbeddingCache.for_index(tmp_path, embedder.model, embedder.dimension) as cache:
        # the same text, cached as a passage
        cache.put_many([cache.key(text, runtime_prompt("passage", embedder.runtime_id))], stale)
    counts = UnitCounts()
    vectors = _vectors_for(tmp_path, [text], embedder, None, counts, _Stages(tmp_path, None), None, "sentences",
                           sentences=True)
    assert embedder.model.profile.sentence_prompt == "query"
    assert counts.embedded == 1 and counts.reused == 0
    assert float(vectors[0] @ embedder.embed_sentences([text])[0]) > 0.999
    # Units still find their passage vectors.
    counts = UnitCounts()
    again = _vectors_for(tmp_path, [text], embedder, None, counts, _Stages(tmp_path, None), None, "embedding")
    assert counts.reused == 1 and np.allclose(again, stale)


def test_counts_add_up_when_new_texts_repeat(work, embedder):
    src, index = work
    _variant(src)
    _variant(src, "lishu-copy.txt")  # the same new texts twice: one model call each, two units each
    report = rebuild_index([src], index, embedder=embedder)
    for counts in (report.units, report.sentences):
        assert counts.embedded + counts.reused == counts.total
        assert counts.embedded >= 2 * counts.distinct_embedded > 0
    # Both copies got the vector computed once (written to the first row, copied to the repeat).
    store = Store(current_version(index).path / "store.sqlite")
    try:
        units = store.units_at(range(store.counts()["units"]))
    finally:
        store.close()
    rows = {d: {u.text: row for row, u in units.items() if u.document_id == d} for d in ("lishu-2023", "lishu-copy")}
    assert rows["lishu-2023"].keys() == rows["lishu-copy"].keys()
    vectors = load_vector_index(current_version(index).path / "vectors.faiss")
    for text, row in rows["lishu-2023"].items():
        same = vectors.reconstruct(row), vectors.reconstruct(rows["lishu-copy"][text])
        assert abs(float(same[0] @ same[0]) - 1) < 1e-4 and float(same[0] @ same[1]) > 0.9999


def test_region_option_reingests_reports_indexed_under_another_region(work, embedder):
    src, index = work
    report = rebuild_index([src / "xiamen-2021.txt"], index, embedder=embedder, region="思明区", keep_missing=True)
    assert report.status == "published"
    assert report.changes["changed"] == ["xiamen-2021"] and report.documents.kept == 4
    with open_index(index) as fresh:
        regions = {d["id"]: d["region"] for d in fresh.info().documents}
    assert regions["xiamen-2021"] == "厦门市思明区"
    again = rebuild_index([src / "xiamen-2021.txt"], index, embedder=embedder, region="思明区", keep_missing=True)
    assert again.status == "unchanged"


def test_unreadable_report_with_a_repeated_stem_keeps_its_own_content(work, embedder):
    src, index = work
    (src / "z").mkdir()
    shutil.copy(src / "xiamen-2021.txt", src / "z" / "xiamen-2021.txt")  # indexed as xiamen-2021-2
    added = rebuild_index([src], index, embedder=embedder)
    assert added.changes["added"] == ["xiamen-2021-2"]
    (src / "z" / "xiamen-2021.txt").write_bytes(bytes(range(256)) * 8)
    second = rebuild_index([src], index, embedder=embedder)
    assert [s.document_id for s in second.skipped] == ["xiamen-2021-2"]
    assert second.changes["kept"] == ["xiamen-2021-2"] and second.status == "unchanged"
    # The first one unreadable: the other keeps its id instead of taking over xiamen-2021.
    shutil.copy(src / "xiamen-2021.txt", src / "z" / "xiamen-2021.txt")
    (src / "xiamen-2021.txt").write_bytes(bytes(range(256)) * 8)
    third = rebuild_index([src], index, embedder=embedder)
    assert third.changes["kept"] == ["xiamen-2021"] and not third.changes["removed"]
    assert third.status == "unchanged" and third.documents.unchanged == 5


def test_changing_one_paragraph_embeds_only_the_changed_unit(work, embedder):
    src, index = work
    path = src / "xiamen-2021.txt"
    raw = path.read_text(encoding="utf-8")
    store = Store(current_version(index).path / "store.sqlite")
    units = [u for u in store.units_at(range(store.counts()["units"])).values()
             if u.document_id == "xiamen-2021" and u.kind == "paragraph" and not u.boilerplate]
    store.close()
    anchor = next(u.text[:12] for u in sorted(units, key=lambda u: u.start)[3:] if raw.count(u.text[:12]) == 1)
    path.write_text(raw.replace(anchor, anchor + "（经试点后全面推开）"), encoding="utf-8")
    old = _texts(index, document="xiamen-2021")
    report = rebuild_index([src], index, embedder=embedder)
    assert report.changes["changed"] == ["xiamen-2021"]
    assert report.documents.unchanged == 4
    new = _texts(index, document="xiamen-2021")
    assert len(new - old) == 1
    assert report.units.embedded == 1


def test_damaged_current_version_is_rebuilt_from_the_cache(work, embedder):
    src, index = work
    store = current_version(index).path / "store.sqlite"
    store.write_bytes(store.read_bytes()[:4096])
    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "published" and report.previous is None
    assert any("store.sqlite" in w for w in report.warnings)
    assert report.documents.added == 5 and report.units.embedded == 0
    assert _search_json(index)["regions"]


def test_removed_reports_are_dropped_unless_kept(work, embedder):
    src, index = work
    (src / "taishun-2023.txt").unlink()
    kept = rebuild_index([src], index, embedder=embedder, keep_missing=True)
    assert kept.status == "unchanged" and kept.documents.kept == 1
    dropped = rebuild_index([src], index, embedder=embedder)
    assert dropped.changes["removed"] == ["taishun-2023"] and dropped.units.embedded == 0
    with open_index(index) as fresh:
        assert "泰顺县" not in {d["region"] for d in fresh.info().documents}


def test_unreadable_report_is_skipped_with_its_reason_and_its_old_content_kept(work, embedder):
    src, index = work
    (src / "taishun-2023.txt").write_bytes(bytes(range(256)) * 8)
    (src / "notes.txt").write_text("")
    report = rebuild_index([src], index, embedder=embedder)
    assert {Path(s.file).name for s in report.skipped} == {"taishun-2023.txt", "notes.txt"}
    assert all(s.reason for s in report.skipped)
    assert report.changes["kept"] == ["taishun-2023"]
    assert report.status == "unchanged"


# --------------------------------------------------------------------------- readers


def test_open_handle_keeps_its_version_and_reload_moves_on(work, embedder):
    src, index = work
    reader = open_index(index)
    before = reader.search(QUERY, k=5).to_dict()
    (src / "shishi-2024.txt").unlink()
    report = rebuild_index([src], index, embedder=embedder)
    assert not reader.is_current
    assert reader.search(QUERY, k=5).to_dict() == before
    assert reader.reload() is True and reader.version.name == report.version
    with open_index(index) as fresh:
        assert reader.search(QUERY, k=5).to_dict() == fresh.search(QUERY, k=5).to_dict()
    assert "石狮市" not in [r.region for r in reader.search(QUERY, k=5).regions]
    assert reader.reload() is False
    reader.close()


READER_LOOP = """
import json, sys, time
from simkit.api import open_index
out = open(sys.argv[2], "a", buffering=1)
while True:
    try:
        with open_index(sys.argv[1]) as index:
            result = index.search(sys.argv[3], k=5).to_dict()
            out.write(json.dumps({"version": index.version.name, "result": result}, ensure_ascii=False) + "\\n")
    except Exception as exc:
        out.write(json.dumps({"error": repr(exc)}) + "\\n")
"""


@pytest.mark.slow
def test_reader_loop_during_rebuild_never_fails_nor_sees_a_partial_index(work, embedder, tmp_path):
    src, index = work
    log = tmp_path / "reader.jsonl"
    log.touch()

    def lines() -> list[dict]:  # complete lines only: the reader may be half-way through writing one
        text = log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]

    def wait_lines(n: int) -> None:
        deadline = time.monotonic() + 90
        while len(lines()) < n:
            assert time.monotonic() < deadline, "reader made no progress"
            time.sleep(0.05)

    with open_index(index) as old:
        expected_old = (old.version.name, _plain(old.search(QUERY, k=5).to_dict()))
    reader = subprocess.Popen([sys.executable, "-c", READER_LOOP, str(index), str(log), QUERY], env=_env())
    try:
        def during(stage: str) -> None:  # let the reader query while each stage is under way
            wait_lines(len(lines()) + 2)

        _variant(src)
        (src / "quangang-2023.txt").unlink()
        report = rebuild_index([src], index, embedder=embedder, checkpoint=during)
        seen = len(lines())
        wait_lines(seen + 3)
    finally:
        reader.kill()
        reader.wait()
    with open_index(index) as new:
        expected_new = (new.version.name, _plain(new.search(QUERY, k=5).to_dict()))
    assert expected_new[0] == report.version
    records = lines()
    assert not [r for r in records if "error" in r]
    answers = [(r["version"], r["result"]) for r in records]
    assert [a for a in answers if a not in (expected_old, expected_new)] == []
    assert answers[0] == expected_old and answers[-1] == expected_new


# --------------------------------------------------------------------------- crashes


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["ingest", "embed", "write-faiss", "swap"])
def test_killed_rebuild_leaves_the_previous_version_serving(work, embedder, tmp_path, stage):
    src, index = work
    before_version = current_version(index).name
    before = _search_json(index)
    if stage == "embed":
        _variant(src)  # new text: the model has to run
    else:
        (src / "taishun-2023.txt").unlink()  # a change that needs no embedding
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        [sys.executable, "-m", "simkit", "rebuild", str(src), "--index", str(index), "--json"],
        env=_env(SIMKIT_FAULT_PAUSE=stage, SIMKIT_FAULT_MARKER=str(marker)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(marker, process)
    # While it runs, a second rebuild is refused with its own exit code and the holder's pid.
    second = CliRunner().invoke(cli, ["rebuild", str(src), "--index", str(index)])
    assert second.exit_code == 5, second.output
    assert f"pid {process.pid}" in second.output and "try again" in second.output
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert json.loads((index / LOCK).read_text())["pid"] == process.pid  # the lock file names a dead process

    assert current_version(index).name == before_version
    assert _search_json(index) == before
    if stage in ("write-faiss", "swap"):
        assert _leftovers(index)  # an unfinished version, or a pointer swap that never happened

    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "published"
    assert report.recovered or stage in ("ingest", "embed")
    assert not _leftovers(index)
    assert current_version(index).name == report.version != before_version
    if stage == "embed":
        # Vectors embedded before the kill were committed to the cache and are not embedded again.
        assert report.units.embedded == 0
        assert report.documents.added == 1
    versions = published_versions(index)
    assert report.version in versions and before_version in versions
    assert all(v in (report.version, before_version) or v < before_version for v in versions)
    _search_json(index)


def test_leftovers_of_an_interrupted_build_are_cleaned_up(work, embedder):
    src, index = work
    versions = index / VERSIONS
    (versions / ".tmp-v20200101T000000Z-1-abcd-xyz").mkdir()
    (versions / ".tmp-v20200101T000000Z-1-abcd-xyz" / "vectors.faiss").write_bytes(b"half")
    report = rebuild_index([src], index, embedder=embedder)
    assert report.status == "unchanged"
    assert report.recovered == ["versions/.tmp-v20200101T000000Z-1-abcd-xyz"]
    assert not _leftovers(index)


def test_interrupted_rollback_leaves_its_version_and_interrupted_publish_does_not(work, embedder):
    src, index = work
    first = current_version(index).name
    (src / "taishun-2023.txt").unlink()
    second = rebuild_index([src], index, embedder=embedder).version
    # A rollback killed between writing its pointer file and the swap; one of an older simkit too.
    rolled = _write_pointer_tmp(index, first, "rollback")
    legacy = index / f".{CURRENT}.4242.tmp"
    legacy.write_text(first + "\n", encoding="utf-8")
    # A publish killed at the same point: its version was renamed into place but never served.
    orphan = "v29990101T000000000Z-1-abcd"
    shutil.copytree(index / VERSIONS / second, index / VERSIONS / orphan)
    published = _write_pointer_tmp(index, orphan, "publish")
    removed = recover(index)
    assert sorted(removed) == sorted([rolled.name, legacy.name, published.name, f"{VERSIONS}/{orphan}"])
    assert published_versions(index)[-2:] == [first, second]
    assert current_version(index).name == second and not _leftovers(index)
    assert rollback(index, first) == (second, first)
    with open_index(index) as rolled_back:
        assert rolled_back.version.name == first and rolled_back.search(QUERY, k=1).regions


def test_failed_publish_discards_the_staged_version(work, embedder):
    src, index = work
    before = current_version(index).name
    (src / "taishun-2023.txt").unlink()
    blocker = index / f".{CURRENT}.publish.{os.getpid()}.tmp"

    def block(stage: str) -> None:
        if stage == "validate":  # the pointer file cannot be written: publish fails before the rename
            blocker.mkdir()

    with pytest.raises(WriteError, match="cannot be written"):
        rebuild_index([src], index, embedder=embedder, checkpoint=block)
    blocker.rmdir()
    assert current_version(index).name == before
    assert not _leftovers(index)
    saved = json.loads((index / "last_rebuild.json").read_text())
    assert saved["status"] == "failed" and str(blocker) in saved["error"]
    assert rebuild_index([src], index, embedder=embedder).status == "published"


def test_smoke_query_uses_the_rebuilds_embedder(work, embedder):
    src, index = work
    (src / "taishun-2023.txt").unlink()  # nothing to embed or tokenize: only the smoke query needs a model
    own = Embedder(embedder.model)
    assert own._nano is None and own._st is None
    report = rebuild_index([src], index, embedder=own)
    assert report.status == "published" and report.units.embedded == 0
    assert own._nano is not None or own._st is not None


@pytest.mark.parametrize("split", [False, True])
def test_faiss_write_pauses_half_way_only_when_asked(tmp_path, split):
    vectors = np.eye(8, 16, dtype=np.float32)
    index = build_vector_index(vectors)
    path = tmp_path / "vectors.faiss"
    sizes: list[int] = []
    save_vector_index(index, path, lambda stage: sizes.append(path.stat().st_size), split=split)
    full = path.stat().st_size
    assert len(sizes) == 1 and (sizes[0] < full if split else sizes[0] == full)
    assert load_vector_index(path).ntotal == 8


def test_failed_validation_keeps_the_previous_version(work, embedder):
    src, index = work
    before = current_version(index).name
    (src / "taishun-2023.txt").unlink()

    def damage(stage: str) -> None:
        if stage == "validate":
            staged = next((index / VERSIONS).glob(".tmp-*"))
            data = bytearray((staged / "vectors.faiss").read_bytes())
            data[-100] ^= 0xFF
            (staged / "vectors.faiss").write_bytes(bytes(data))

    with pytest.raises(ValidationError, match=r"vectors\.faiss: checksum mismatch.*still serves") as caught:
        rebuild_index([src], index, embedder=embedder, checkpoint=damage)
    assert caught.value.report.status == "failed"
    assert current_version(index).name == before
    assert not _leftovers(index)
    assert json.loads((index / "last_rebuild.json").read_text())["status"] == "failed"
    assert rebuild_index([src], index, embedder=embedder).status == "published"


@pytest.mark.slow
def test_cli_exit_code_when_validation_fails(work, tmp_path):
    src, index = work
    before = current_version(index).name
    (src / "taishun-2023.txt").unlink()
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        [sys.executable, "-m", "simkit", "rebuild", str(src), "--index", str(index), "--json"],
        env=_env(SIMKIT_FAULT_PAUSE="validate", SIMKIT_FAULT_MARKER=str(marker)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(marker, process)
    staged = next((index / VERSIONS).glob(".tmp-*"))
    store = staged / "store.sqlite"
    store.write_bytes(store.read_bytes()[:-4096])
    marker.unlink()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 4, err
    assert "store.sqlite" in err and "still serves" in err and err.startswith("Error: ")
    assert json.loads(out)["status"] == "failed"
    assert current_version(index).name == before
    assert not _leftovers(index)


# --------------------------------------------------------------------------- corruption, versions, rollback


@pytest.mark.parametrize("name", ["vectors.faiss", "store.sqlite"])
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_current_version_is_detected_and_rollback_recovers(work, embedder, name, damage):
    """A truncated file is refused on open (its size); a same-size bit flip is what `simkit verify` finds
    (opening does not hash gigabytes); either way the error names the file and the rollback."""
    src, index = work
    (src / "taishun-2023.txt").unlink()
    previous = current_version(index).name
    rebuild_index([src], index, embedder=embedder)
    path = current_version(index).path / name
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    runner = CliRunner()
    if damage == "truncate":
        with pytest.raises(IndexLoadError, match=re.escape(name) + ": checksum mismatch.*simkit rollback"):
            open_index(index)
        result = runner.invoke(cli, ["search", QUERY, "--index", str(index)])
        assert result.exit_code == 1
        assert result.output.startswith("Error: ") and name in result.output and "simkit rollback" in result.output
    with pytest.raises(IndexLoadError, match=re.escape(name) + ": checksum mismatch.*simkit rollback"):
        open_index(index, verify="checksums")
    checked = runner.invoke(cli, ["verify", "--index", str(index)])
    assert checked.exit_code == 1, checked.output
    errors = [line for line in checked.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and f"{name}: checksum mismatch" in errors[0] and "simkit rollback" in errors[0]
    rolled = runner.invoke(cli, ["rollback", "--index", str(index)])
    assert rolled.exit_code == 0, rolled.output
    assert current_version(index).name == previous
    assert runner.invoke(cli, ["verify", "--index", str(index)]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["verify", "--all", "--json", "--index", str(index)]).stdout)
    assert [c["ok"] for c in listed][-2:] == [True, False] and listed[-2]["current"] and listed[-2]["name"] == previous
    assert _search_json(index)["regions"]


def test_versions_and_rollback_commands(work, embedder):
    src, index = work
    first = current_version(index).name
    (src / "taishun-2023.txt").unlink()
    second = rebuild_index([src], index, embedder=embedder).version
    runner = CliRunner()
    listed = runner.invoke(cli, ["versions", "--index", str(index), "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert [v["name"] for v in data][-2:] == [first, second]
    assert [v["current"] for v in data][-2:] == [False, True]
    assert data[-1]["documents"] == 4 and data[-2]["documents"] == 5
    text = runner.invoke(cli, ["versions", "--index", str(index)]).output
    assert f"* {second}" in text
    rolled = runner.invoke(cli, ["rollback", first, "--index", str(index)])
    assert rolled.exit_code == 0 and first in rolled.output
    assert current_version(index).name == first
    older = [v for v in published_versions(index) if v < first]
    for _ in older:
        assert runner.invoke(cli, ["rollback", "--index", str(index)]).exit_code == 0
    none_left = runner.invoke(cli, ["rollback", "--index", str(index)])
    assert none_left.exit_code == 1 and "no version older than" in none_left.output
    unknown = runner.invoke(cli, ["rollback", "v-nope", "--index", str(index)])
    assert unknown.exit_code == 1 and "simkit versions" in unknown.output


def test_versions_and_rollback_need_an_index(tmp_path):
    for command in (["versions"], ["rollback"]):
        result = CliRunner().invoke(cli, [*command, "--index", str(tmp_path / "none")])
        assert result.exit_code == 1 and "simkit build" in result.output
    assert not (tmp_path / "none").exists()


def test_rollback_is_refused_while_a_rebuild_holds_the_lock(work):
    _, index = work
    with IndexLock(index, "rebuild"):
        result = CliRunner().invoke(cli, ["rollback", "--index", str(index)])
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
            rollback(index)
    assert result.exit_code == 5
    assert "try again" in result.output


def test_keep_prunes_old_versions_but_never_the_current_one(work, embedder):
    src, index = work
    for name in ("taishun-2023.txt", "xiamen-2021.txt", "siping-2023.txt"):
        (src / name).unlink()
        rebuild_index([src], index, embedder=embedder, keep=2)
        assert len(published_versions(index)) == 2
    oldest, newest = published_versions(index)
    rollback(index, oldest)
    assert prune(index, keep=1) == []  # only the newest would stay, but the current one is never removed
    assert published_versions(index) == [oldest, newest]
    assert current_version(index).name == oldest
    with open_index(index) as reopened:
        assert reopened.search(QUERY, k=1).regions


# --------------------------------------------------------------------------- CLI report and exit codes


def test_rebuild_json_report_and_exit_codes(work):
    src, index = work
    runner = CliRunner()
    unchanged = runner.invoke(cli, ["rebuild", str(src), "--index", str(index), "--json"])
    assert unchanged.exit_code == 3, unchanged.output
    assert json.loads(unchanged.output)["status"] == "unchanged"
    (src / "taishun-2023.txt").unlink()
    (src / "broken.txt").write_text("")
    result = runner.invoke(cli, ["rebuild", str(src), "--index", str(index), "--json", "--keep", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert isinstance(data["version"], str) and data["version"] == current_version(index).name
    assert data["documents"] == {"added": 0, "changed": 0, "removed": 1, "unchanged": 4, "kept": 0}
    assert data["units"]["embedded"] == 0 and data["units"]["reused"] == data["units"]["total"] > 0
    assert [(Path(s["file"]).name, bool(s["reason"])) for s in data["skipped"]] == [("broken.txt", True)]
    assert {"ingest", "embed", "write", "validate", "swap", "total"} <= set(data["seconds"])
    info = runner.invoke(cli, ["info", "--index", str(index), "--json"])
    assert json.loads(info.output)["last_rebuild"]["version"] == data["version"]
    text = runner.invoke(cli, ["info", "--index", str(index)]).output
    assert f"rebuild  {data['started_at']} published: version {data['version']}" in text
    plain = runner.invoke(cli, ["rebuild", str(src), "--index", str(index)])
    assert plain.exit_code == 3 and "Nothing changed" in plain.output


def test_failed_rebuild_prints_and_saves_its_report_unless_locked(work, tmp_path):
    _, index = work
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("")
    failed = runner.invoke(cli, ["rebuild", str(empty), "--index", str(index), "--json"])
    assert failed.exit_code == 1, failed.output
    data = json.loads(failed.stdout)
    assert data["status"] == "failed" and "no readable report" in data["error"]
    assert data["previous"] == current_version(index).name
    saved = (index / "last_rebuild.json").read_text()
    assert json.loads(saved) == data
    text = runner.invoke(cli, ["info", "--index", str(index)]).output
    assert f"rebuild  {data['started_at']} failed:" in text and "no readable report" in text
    with IndexLock(index, "rebuild"):
        locked = runner.invoke(cli, ["rebuild", str(empty), "--index", str(index), "--json"])
    assert locked.exit_code == 5, locked.output
    refused = json.loads(locked.stdout)
    assert refused["status"] == "failed" and "try again" in refused["error"]
    assert (index / "last_rebuild.json").read_text() == saved  # the running rebuild's report is left alone


# --------------------------------------------------------------------------- operations


@pytest.mark.slow
def test_nightly_script_logs_and_exit_codes(work, tmp_path):
    src, index = work
    logs = tmp_path / "logs"
    env = _env(SIMKIT_INDEX=str(index), SIMKIT_SOURCES=str(src), SIMKIT_LOG_DIR=str(logs), SIMKIT_KEEP="2",
               SIMKIT=f"{sys.executable} -m simkit")
    script = str(PROJECT / "scripts" / "nightly_rebuild.sh")
    unchanged = subprocess.run([script], env=env, capture_output=True, text=True)
    assert unchanged.returncode == 0, unchanged.stderr
    (src / "taishun-2023.txt").unlink()
    published = subprocess.run([script], env=env, capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    log = (logs / "rebuild.log").read_text(encoding="utf-8")
    assert "exit 3: nothing changed" in log and "exit 0: published a new version" in log
    assert "simkit: published version" in log  # the rebuild's own stage logs
    reports = sorted(json.loads(p.read_text())["status"] for p in logs.glob("rebuild-*.json"))
    assert reports == ["published", "unchanged"]
    assert len(published_versions(index)) == 2
    with IndexLock(index):
        locked = subprocess.run([script], env=env, capture_output=True, text=True)
    assert locked.returncode == 5 and "another rebuild is running" in locked.stderr
    newest = max(logs.glob("rebuild-*.json"), key=lambda p: p.name)
    assert json.loads(newest.read_text())["status"] == "failed"


def test_build_is_refused_while_a_rebuild_holds_the_lock(work, examples_dir):
    _, index = work
    leftover = index / VERSIONS / ".tmp-v20200101T000000Z-1-abcd-xyz"
    leftover.mkdir()
    with IndexLock(index, "rebuild"):
        result = CliRunner().invoke(cli, ["build", str(examples_dir / "siping-2023.txt"), "--index", str(index)])
    assert result.exit_code == 5 and "a rebuild by pid" in result.output
    assert leftover.is_dir()  # leftovers are only cleaned up by the writer that holds the lock
