"""The embedding stage on Ray (issue 17): ``simkit build --ray`` writes the version a local build writes.

A local Ray instance of 2 CPUs is started in this process (for :class:`TestOnACluster`); the CLI runs in a subprocess
that connects to it by address, as it would to a real cluster, and the Python API runs in this process
(which reuses the connection). Ray is a test dependency (the ``test`` extra): without it these tests fail
at import, saying so, rather than skipping.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from simkit.errors import BuildError
from simkit.store.manifest import Manifest, ManifestError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"
QUERIES = ["在乡镇推行一支队伍管执法的综合执法改革", "bundle related services so people apply once at one window",
           "行政复议体制改革"]


@pytest.fixture(scope="class")
def ray_cluster():
    """A local Ray instance (2 CPUs, no dashboard) for a class of tests; yields its GCS address."""
    import ray

    assert not ray.is_initialized(), "another test left Ray connected"
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _simkit(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simkit", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _plain(manifest: Manifest) -> dict:
    """A manifest's fields less those that differ between two builds of the same reports."""
    data = manifest.to_dict()
    for key in ("created_at", "files", "embedded_on"):
        data.pop(key, None)
    return data


# --------------------------------------------------------------------------- through a cluster


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")  # Ray Data copying its own settings
class TestOnACluster:
    """Builds through a local Ray instance started for this class only (so that the tests below,
    which check addresses, run in a process not connected to Ray)."""

    def test_a_build_on_ray_is_the_local_build(self, ray_cluster, demo_index_dir, tmp_path):
        from simkit.api import open_index
        from simkit.store.parts import IndexParts

        target = tmp_path / "index"
        started = time.perf_counter()
        done = _simkit("build", str(EXAMPLES), "--index", str(target), "--ray", ray_cluster, "--json")
        seconds = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)  # stdout is the JSON alone: nothing of Ray's went there
        assert result["units"] == 172 and result["documents"] == 5 and result["skipped"] == []
        where = result["embedded_on"]
        assert where["engine"] == "ray" and where["address"] == ray_cluster and where["workers"] == 1
        assert where["hosts"] == [socket.gethostname()]
        print(f"build through Ray (CLI, 1 worker, 2 CPUs): {seconds:.1f} s; {result['seconds']}")

        ray_parts, local_parts = IndexParts.open(target), IndexParts.open(demo_index_dir)
        try:
            assert ray_parts.manifest.embedded_on == where
            assert local_parts.manifest.embedded_on is None
            assert _plain(ray_parts.manifest) == _plain(local_parts.manifest)
            assert ray_parts.total == local_parts.total == 172
            rows = range(ray_parts.total)
            assert ([u.id for _, u in sorted(ray_parts.store.units_at(rows).items())]
                    == [u.id for _, u in sorted(local_parts.store.units_at(rows).items())])
            assert _cosines(ray_parts.all_vectors(), local_parts.all_vectors()).min() > 0.999
            ours, theirs = ray_parts.sentences, local_parts.sentences
            assert ours is not None and theirs is not None
            assert np.array_equal(ours.offsets, theirs.offsets) and np.array_equal(ours.spans, theirs.spans)
            assert _cosines(ours.vectors, theirs.vectors).min() > 0.999
            assert ray_parts.latent_terms is not None and local_parts.latent_terms is not None
            packed, expected = ray_parts.latent_terms.packed_rows(), local_parts.latent_terms.packed_rows()
            half = packed.shape[1] // 2
            assert np.array_equal(packed[:, :half], expected[:, :half])  # the same terms
            assert np.allclose(packed[:, half:], expected[:, half:], atol=1e-2)  # activations (float16 on disk)
        finally:
            ray_parts.close()
            local_parts.close()

        with open_index(target) as on_ray, open_index(demo_index_dir) as local:
            for query in QUERIES:
                assert (on_ray.search(query, k=1).regions[0].hits[0].paragraph_id
                        == local.search(query, k=1).regions[0].hits[0].paragraph_id), query


    def test_a_rebuild_on_ray_embeds_only_the_new_units_there(self, ray_cluster, index_copy, embedder, tmp_path):
        from simkit.pipeline.rebuild import rebuild_index
        from simkit.store.parts import IndexParts

        sources = tmp_path / "reports"
        shutil.copytree(EXAMPLES, sources)
        report = sources / "taishun-2023.txt"
        lines = report.read_text(encoding="utf-8").splitlines()
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        added = "全年新增法律顾问二十名，实现乡镇全覆盖。"
        lines[longest] += added
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")

        result = rebuild_index([sources], index_copy, ray=ray_cluster)  # this process is connected: it is reused
        assert result.status == "published", result.error
        assert result.documents.changed == 1 and 1 <= result.units.distinct_embedded <= 3
        assert result.embedded_on is not None and result.embedded_on["engine"] == "ray"
        assert result.embedded_on["address"] == ray_cluster
        parts = IndexParts.open(index_copy)
        try:
            assert parts.manifest.embedded_on == result.embedded_on
            units = parts.store.units_at(range(parts.total))
            changed = [row for row, unit in units.items() if added in unit.text]
            assert changed
            from simkit.reading.segment import embedding_text

            context = parts.manifest.embed_context
            texts = [embedding_text(units[row], context) for row in changed]
            assert _cosines(parts.vectors_at(np.asarray(changed)), embedder.embed_passages(texts)).min() > 0.999
        finally:
            parts.close()


    def test_a_worker_with_another_model_fails_the_build(self, ray_cluster):
        from simkit.embedding.embedder import Embedder
        from simkit.embedding.encode import UnitText
        from simkit.pipeline.distributed import encode_on_ray

        local = Embedder.load()
        other = Embedder(replace(local.model, fingerprint="0" * 16))
        units = [UnitText("（一）依法行政\n推进综合执法改革。", "推进综合执法改革。", ((0, 9),))]
        with pytest.raises(BuildError) as raised:
            encode_on_ray(ray_cluster, other, units, workers=1)
        message = str(raised.value)
        assert "\n" not in message and ray_cluster in message and socket.gethostname() in message
        assert "fingerprint" in message and "0" * 16 in message


# --------------------------------------------------------------------------- failing at once


def test_an_unreachable_address_fails_at_once_and_touches_nothing(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    (index / "CURRENT").write_text("v1\n", encoding="ascii")  # stands for an index that serves
    before = sorted((p.name, p.read_bytes()) for p in index.iterdir())
    address = f"127.0.0.1:{_free_port()}"
    for command in ("build", "rebuild"):
        started = time.perf_counter()
        done = _simkit(command, str(EXAMPLES), "--index", str(index), "--ray", address, "--json", timeout=120)
        seconds = time.perf_counter() - started
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and address in errors[0] and "cannot connect" in errors[0], done.stderr
        assert seconds < 30, f"{command} took {seconds:.0f} s to give up on {address}"
        assert sorted((p.name, p.read_bytes()) for p in index.iterdir()) == before


def test_bad_addresses_are_one_line_errors():
    from simkit.pipeline.distributed import check_address

    for address, words in (("justahost", "give HOST:PORT"), ("nosuch.invalid:6379", "unknown host"),
                           ("ray://", "give HOST:PORT")):
        with pytest.raises(BuildError) as raised:
            check_address(address)
        assert "\n" not in str(raised.value) and words in str(raised.value), str(raised.value)


def test_a_port_that_is_not_ray_is_refused_at_once():
    from simkit.pipeline.distributed import check_address

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        started = time.perf_counter()
        with pytest.raises(BuildError, match="is not a Ray cluster .no reply to the handshake"):
            check_address(address)  # the listener never answers the handshake: the probe gives up
        assert time.perf_counter() - started < 10


def test_without_ray_the_option_says_how_to_install_it(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from simkit.cli import cli
    from simkit.pipeline.build import build_index

    for name in ("ray", "ray.data"):
        monkeypatch.setitem(sys.modules, name, None)  # `import ray` raises ImportError
    with pytest.raises(BuildError, match=r"pip install 'simkit\[ray\]'"):
        build_index([EXAMPLES], tmp_path / "index", ray="local")
    assert not (tmp_path / "index").exists()
    done = CliRunner().invoke(cli, ["build", str(EXAMPLES), "--index", str(tmp_path / "index"), "--ray", "local"])
    assert done.exit_code == 1
    errors = [line for line in done.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "pip install 'simkit[ray]'" in errors[0]


# --------------------------------------------------------------------------- the manifest field


def _manifest_data(**extra) -> dict:
    data = {"format_version": 1, "model": {"name": "m", "id": "x/m", "path": None, "fingerprint": "f" * 16,
                                           "dimension": 4, "normalized": True, "query_prefix": "",
                                           "passage_prefix": "", "max_tokens": 8},
            "counts": {"documents": 1, "paragraphs": 1, "units": 1, "vectors": 1},
            "files": {"vectors.faiss": {"sha256": "0" * 64, "bytes": 1}}}
    return {**data, **extra}


def test_the_manifest_records_where_units_were_embedded():
    where = {"engine": "ray", "address": "10.0.0.5:6379", "workers": 4, "hosts": ["a", "b"]}
    manifest = Manifest.from_dict(_manifest_data(embedded_on=where))
    assert manifest.embedded_on == where and manifest.to_dict()["embedded_on"] == where
    plain = Manifest.from_dict(_manifest_data())
    assert plain.embedded_on is None and "embedded_on" not in plain.to_dict()  # a local build writes none
    for bad, words in (({**where, "workers": 0}, "embedded_on.workers"), ({**where, "hosts": "a"}, "hosts"),
                       ({"engine": "ray", "workers": 1}, "embedded_on.address: missing")):
        with pytest.raises(ManifestError, match=words):
            Manifest.from_dict(_manifest_data(embedded_on=bad))


def test_the_ray_arguments_are_checked(tmp_path):
    from simkit.errors import QueryError
    from simkit.pipeline.build import build_index
    from simkit.pipeline.rebuild import rebuild_index

    for call in (lambda: build_index([EXAMPLES], tmp_path / "index", ray=6379),
                 lambda: build_index([EXAMPLES], tmp_path / "index", ray="local", ray_workers=0),
                 lambda: rebuild_index([EXAMPLES], tmp_path / "index", ray="local", ray_workers="2")):
        with pytest.raises(QueryError):
            call()
    assert not (tmp_path / "index").exists()
