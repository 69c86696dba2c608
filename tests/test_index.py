"""The on-disk index: manifest, checksums, model identity, atomic publication."""

from __future__ import annotations

import json

import faiss
import pytest
from click.testing import CliRunner

from simkit.api import open_index
from simkit.cli import cli
from simkit.errors import BuildError, IndexLoadError
from simkit.pipeline.build import build_index
from simkit.store.layout import current_version
from simkit.store.manifest import Manifest


def test_manifest_records_how_the_index_was_built(demo_index_dir):
    version = current_version(demo_index_dir)
    manifest = version.manifest.to_dict()  # as written to manifest.json
    assert manifest["format_version"] == 2
    assert manifest["model"]["id"] == "intfloat/multilingual-e5-small"
    assert manifest["model"]["dimension"] == 384
    assert manifest["model"]["normalized"] is True
    assert manifest["model"]["query_prefix"] == "query: "
    assert manifest["counts"]["documents"] == 5
    assert manifest["counts"]["units"] == manifest["counts"]["vectors"] >= 80
    expected = {"vectors.faiss", "store.sqlite", "phrases.json", "lexical.json", "lexical.vocab.json"}
    assert expected <= set(manifest["files"])
    assert all((version.path / name).is_file() for name in manifest["files"])
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    assert manifest["versions"]["faiss-cpu"]
    index = faiss.read_index(str(version.path / "vectors.faiss"))
    assert index.ntotal == manifest["counts"]["vectors"]
    assert index.d == 384


def _flip_byte(path, offset_from_end: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) - offset_from_end] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_byte_in_faiss_file_is_detected_by_checksums(index_copy):
    """Opening checks sizes (cheap); a same-size flip is found by the checksums: verify="checksums", `simkit verify`."""
    version = current_version(index_copy)
    _flip_byte(version.path / "vectors.faiss")
    open_index(index_copy).close()
    with pytest.raises(IndexLoadError, match=r"vectors\.faiss: checksum mismatch"):
        open_index(index_copy, verify="checksums")
    result = CliRunner().invoke(cli, ["verify", "--index", str(index_copy)])
    assert result.exit_code == 1
    assert "vectors.faiss: checksum mismatch (file corrupt or changed)" in result.output


def test_open_checks_sizes_not_checksums(index_copy, monkeypatch):
    """Opening reads no file to hash it (cold start); verify="checksums" hashes each listed file once."""
    import simkit.store.layout as layout

    hashed: list[str] = []
    real = layout.sha256_file
    monkeypatch.setattr(layout, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    open_index(index_copy).close()
    open_index(index_copy, verify=False).close()
    assert hashed == []
    open_index(index_copy, verify="checksums").close()
    assert sorted(hashed) == sorted(current_version(index_copy).manifest.files)


def test_truncated_store_is_detected(index_copy):
    store = current_version(index_copy).path / "store.sqlite"
    store.write_bytes(store.read_bytes()[:4096])
    with pytest.raises(IndexLoadError, match=r"store\.sqlite"):
        open_index(index_copy)


def test_opening_with_another_model_is_refused(index_copy, tmp_path):
    model_dir = tmp_path / "other-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    with pytest.raises(IndexLoadError, match="built with model multilingual-e5-small"):
        open_index(index_copy, model=str(model_dir))


def test_changed_model_fingerprint_is_refused(index_copy):
    version = current_version(index_copy)
    manifest_path = version.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["fingerprint"] = "0000000000000000"
    Manifest.from_dict(manifest).write(version.path)  # with its checksum, as simkit writes it
    index = open_index(index_copy)
    with pytest.raises(IndexLoadError, match="rebuild the index"):
        index.search("行政复议")


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexLoadError, match="simkit build"):
        open_index(tmp_path / "nothing-here")


def test_failed_build_keeps_the_current_version(index_copy, tmp_path):
    before = current_version(index_copy).name
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(BuildError, match="empty.txt"):
        build_index([empty], index_copy)
    assert current_version(index_copy).name == before
    assert not [p for p in (index_copy / "versions").iterdir() if p.name.startswith(".tmp")]
    with open_index(index_copy) as index:
        assert index.search("行政复议", k=1).regions


@pytest.mark.slow
def test_rebuild_publishes_a_new_version_readers_keep_theirs(index_copy, examples_dir):
    reader = open_index(index_copy)
    old = reader.version.name
    result = build_index([examples_dir / "siping-2023.txt"], index_copy)
    assert result.documents == 1
    assert current_version(index_copy).name == result.version != old
    # The open handle still answers from its own version.
    assert len(reader.search("一件事", k=5).regions) == 5
    with open_index(index_copy) as fresh:
        assert [r.region for r in fresh.search("一件事", k=5).regions] == ["四平市"]


def test_published_versions_are_readable_by_other_users(demo_index_dir):
    mode = current_version(demo_index_dir).path.stat().st_mode
    assert mode & 0o005 == 0o005  # readers may run as another user (e.g. a web server)


def test_index_path_with_uri_characters(index_copy, tmp_path):
    odd = tmp_path / "a#b?c%d"
    index_copy.rename(odd)
    with open_index(odd) as index:
        assert index.search("行政复议", k=1).regions


def test_damaged_manifest_is_a_clear_error(index_copy):
    manifest_path = current_version(index_copy).path / "manifest.json"
    manifest_path.write_text("[]")
    with pytest.raises(IndexLoadError, match="manifest.json: checksum mismatch"):
        open_index(index_copy)
