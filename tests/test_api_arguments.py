"""The Python API refuses bad arguments with a SimkitError subclass (issue 16, probes 19-22 and 24).

Query length is capped (probe 19), queries of the wrong type or with a lone surrogate raise QueryError
(probes 20, 21), numeric arguments are checked (probe 22), a closed index says so (probe 24), and every
public function and method raises only SimkitError subclasses for wrong types and values (docs/errors.md).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, PROJECT

import simkit
from simkit.cli import cli
from simkit.config import MAX_QUERY_CHARS
from simkit.errors import BuildError, IndexLoadError, InputError, NotFoundError, QueryError, SimkitError

pytestmark = pytest.mark.slow  # the index of two generated reports takes ~20 s to build

QUERY = "推行行政执法公示制度"


@pytest.fixture(scope="module")
def index(markup_index_dir):
    with simkit.open_index(markup_index_dir) as opened:
        yield opened


def _longest_section() -> str:
    """The longest section of the example reports: 泉港区 2023, 一、主要做法和成效 (4,069 characters as a query)."""
    text = (EXAMPLES / "quangang-2023.txt").read_text(encoding="utf-8")
    return text[text.index("一、主要做法和成效"):text.index("二、存在的问题")]


# ------------------------------------------------------------------ probe 19: query length


def test_a_very_long_query_is_refused_at_once_naming_the_limit_and_the_setting(index):
    """Probe 19: a 100,000-character query ran for 32-204 s; it is refused before any work."""
    started = time.perf_counter()
    with pytest.raises(QueryError) as info:
        index.search("法治" * 50_000, mode="lexical")
    assert time.perf_counter() - started < 1
    assert str(info.value) == (f"query of 100000 characters is longer than the limit of {MAX_QUERY_CHARS}; "
                               "search with a shorter passage or raise the limit with SIMKIT_MAX_QUERY_CHARS")


def test_the_limit_follows_the_environment(index, monkeypatch):
    """Probe 19: SIMKIT_MAX_QUERY_CHARS sets the limit; a value that is not a positive number is named."""
    monkeypatch.setenv("SIMKIT_MAX_QUERY_CHARS", "12")
    assert index.search("行政执法公示制度执法公示平台"[:12], mode="lexical").regions
    with pytest.raises(QueryError, match="longer than the limit of 12"):
        index.search("行政执法公示制度执法公示平台", mode="lexical")
    monkeypatch.setenv("SIMKIT_MAX_QUERY_CHARS", "many")
    with pytest.raises(QueryError, match=r"^SIMKIT_MAX_QUERY_CHARS='many': give a whole number"):
        index.search(QUERY, mode="lexical")


def test_a_whole_section_from_a_file_is_still_searched(markup_index_dir, tmp_path):
    """Probe 19: the default limit leaves the longest example section (and a whole report) searchable."""
    section = tmp_path / "section.txt"
    section.write_text(_longest_section(), encoding="utf-8")
    for source in (section, EXAMPLES / "shishi-2024.txt"):  # the longest whole example report: 6,325 characters
        result = CliRunner().invoke(cli, ["search", "--from-file", str(source), "--index", str(markup_index_dir),
                                          "--mode", "lexical", "--json"])
        assert result.exit_code == 0, result.output
    assert len(_longest_section()) < MAX_QUERY_CHARS


def test_an_overlong_query_file_is_one_error_line(markup_index_dir, tmp_path):
    """Probe 19: the CLI says which limit and which setting, exit 1."""
    big = tmp_path / "big.txt"
    big.write_text("推进法治政府建设。" * 2000, encoding="utf-8")
    result = CliRunner().invoke(cli, ["search", "--from-file", str(big), "--index", str(markup_index_dir)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: query of 18000 characters is longer than the limit of 8000; ")
    assert "SIMKIT_MAX_QUERY_CHARS" in result.output


# ------------------------------------------------------------------ probes 20, 21: query type and encoding


@pytest.mark.parametrize(("query", "message"), [
    (None, "query=None: give a string, not NoneType"),
    (123, "query=123: give a string, not int"),
    (["法治"], "query=['法治']: give a string, not list"),
    ("法治".encode(), "query: got bytes, not text; decode it first (value.decode('utf-8'))"),
    (bytearray(b"x"), "query: got bytes, not text; decode it first (value.decode('utf-8'))"),
    ("\ud800abc", "query: holds a lone surrogate '\\ud800' at character 0 (bytes that were not UTF-8?); "
                  "pass valid Unicode text"),
], ids=["None", "int", "list", "bytes", "bytearray", "lone-surrogate"])
def test_a_query_that_is_not_text_is_a_query_error(index, query, message):
    """Probes 20/21: None, numbers and bytes gave AttributeError; a lone surrogate UnicodeEncodeError (rejected,
    not replaced: the text cannot be what the caller meant)."""
    for call in (index.search, index.regions_like):
        with pytest.raises(QueryError) as info:
            call(query)
        assert str(info.value) == message


def test_undecodable_command_line_bytes_are_one_error_line(markup_index_dir):
    """Probe 21: `simkit search $'\\xff法'` (argv not UTF-8) ended in a UnicodeEncodeError traceback."""
    query = b"\xff" + "法".encode()
    done = subprocess.run([sys.executable.encode(), b"-m", b"simkit", b"search", query, b"--index",
                           bytes(markup_index_dir)], capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(PROJECT), "LANG": "C.UTF-8"})
    assert done.returncode == 1
    assert done.stderr.decode() == ("Error: query: holds a lone surrogate '\\udcff' at character 0 (bytes that were "
                                    "not UTF-8?); pass valid Unicode text\n")


# ------------------------------------------------------------------ probe 22: numeric arguments


NUMERIC = [
    ("recommend_for_region", {"k": 0}, "k=0: must be at least 1"),
    ("recommend_for_region", {"k": -1}, "k=-1: must be at least 1"),
    ("recommend_for_region", {"peers": 0}, "peers=0: must be at least 1"),
    ("recommend_for_region", {"peers": -3}, "peers=-3: must be at least 1"),
    ("recommend_for_region", {"min_support": 0}, "min_support=0: must be at least 1"),
    ("recommend_for_region", {"close_quantile": 0}, "close_quantile=0.0: must be a finite number in (0, 1]"),
    ("recommend_for_region", {"close_quantile": math.nan}, "close_quantile=nan: must be a finite number in (0, 1]"),
    ("recommend_for_region", {"close_quantile": 1.5}, "close_quantile=1.5: must be a finite number in (0, 1]"),
    ("recommend_for_region", {"k": 2.5}, "k=2.5: give a whole number of at least 1"),
    ("recommend_for_region", {"k": True}, "k=True: give a whole number of at least 1"),
    ("missing_initiatives", {"peers": 0}, "peers=0: must be at least 1"),
    ("missing_initiatives", {"min_support": 0}, "min_support=0: must be at least 1"),
    ("missing_initiatives", {"min_regions": 0}, "min_regions=0: must be at least 1"),
    ("search", {"threshold": math.nan}, "threshold=nan: must be a finite number in [0, 1]"),
    ("search", {"threshold": math.inf}, "threshold=inf: must be a finite number in [0, 1]"),
    ("search", {"threshold": -0.1}, "threshold=-0.1: must be a finite number in [0, 1]"),
    ("search", {"threshold": 1.01}, "threshold=1.01: must be a finite number in [0, 1]"),
    ("search", {"threshold": "0.9"}, "threshold='0.9': give a number between 0 and 1"),
    ("search", {"k": 0}, "k=0: must be at least 1"),
    ("search", {"k": "5"}, "k='5': give a whole number of at least 1"),
    ("search", {"hits": 0}, "hits=0: must be at least 1"),
    ("search", {"hits": 1.0}, "hits=1.0: give a whole number of at least 1"),
]


@pytest.mark.parametrize(("method", "kwargs", "message"), NUMERIC, ids=[f"{m}-{k}" for m, k, _ in NUMERIC])
def test_numeric_arguments_are_checked(index, method, kwargs, message):
    """Probe 22: k=0 or k=-1 returned a result, peers=0 and a NaN threshold returned nothing, all silently."""
    first = QUERY if method == "search" else "石狮市"
    with pytest.raises(QueryError) as info:
        getattr(index, method)(first, **kwargs)
    assert str(info.value) == message


def test_numpy_integers_and_whole_floats_in_range_are_accepted(index):
    """Numbers from numpy pass (k=np.int64(1)); a threshold of 0 or 1 is a valid bound."""
    assert len(index.search(QUERY, k=np.int64(1), mode="lexical").regions) == 1
    assert index.search(QUERY, k=None, threshold=1, hits=1, mode="lexical").regions == []
    assert index.recommend_for_region("石狮市", k=np.int32(1), close_quantile=1) is not None


# ------------------------------------------------------------------ probe 24: a closed index


CLOSED_CALLS = {
    "search": lambda i: i.search(QUERY),
    "similar": lambda i: i.similar("r0-2024:x"),
    "regions_like": lambda i: i.regions_like(QUERY),
    "paragraph": lambda i: i.paragraph("r0-2024:x"),
    "recommend_for_region": lambda i: i.recommend_for_region("石狮市"),
    "clusters": lambda i: i.clusters(),
    "initiatives_of": lambda i: i.initiatives_of("石狮市"),
    "missing_initiatives": lambda i: i.missing_initiatives("石狮市"),
    "info": lambda i: i.info(),
    "reload": lambda i: i.reload(),
    "store": lambda i: i.store,
}


def test_a_closed_index_says_it_is_closed(markup_index_dir):
    """Probe 24: searching a closed index raised sqlite3.ProgrammingError; every query names the closed handle."""
    index = simkit.open_index(markup_index_dir)
    index.clusters()  # cached before closing: still refused after
    index.close()
    index.close()  # twice is harmless
    for name, call in CLOSED_CALLS.items():
        with pytest.raises(IndexLoadError) as info:
            call(index)
        assert str(info.value) == (f"{markup_index_dir}: this index handle is closed; open the index again "
                                   f"(simkit.open_index({str(markup_index_dir)!r}))"), name


def test_the_with_block_closes_the_handle(markup_index_dir):
    """Probe 24: after `with simkit.open_index(...) as index:` the handle is closed."""
    with simkit.open_index(markup_index_dir) as index:
        assert index.search(QUERY, k=1, mode="lexical").regions
    with pytest.raises(IndexLoadError, match="this index handle is closed"):
        index.search(QUERY)


# ------------------------------------------------------------------ every public call: SimkitError only


def _calls(index_dir: Path, tmp: Path) -> dict[str, object]:
    """Wrong types and values for each public function and method (docs/errors.md)."""
    missing = tmp / "no-index"
    return {
        "open_index(123)": lambda i: simkit.open_index(123),
        "open_index(b'path')": lambda i: simkit.open_index(bytes(index_dir)),
        "open_index(model=1)": lambda i: simkit.open_index(index_dir, model=1),
        "open_index(verify='no')": lambda i: simkit.open_index(index_dir, verify="no"),
        "SimkitIndex(version=1)": lambda i: simkit.SimkitIndex(index_dir, version=1),
        "SimkitIndex(embedder='e5')": lambda i: simkit.SimkitIndex(index_dir, embedder="e5"),
        "open_index(missing)": lambda i: simkit.open_index(missing),
        "SimkitIndex(version='v1')": lambda i: simkit.SimkitIndex(index_dir, version="v1"),
        "SimkitIndex(version='../..')": lambda i: simkit.SimkitIndex(index_dir, version="../.."),
        "build_index(None)": lambda i: simkit.build_index(None, tmp / "b"),
        "build_index(paths, 123)": lambda i: simkit.build_index([EXAMPLES], 123),
        "build_index(region=1)": lambda i: simkit.build_index([EXAMPLES], tmp / "b", region=1),
        "build_index(embed_context='x')": lambda i: simkit.build_index([EXAMPLES], tmp / "b", embed_context="x"),
        "rebuild_index(123)": lambda i: simkit.rebuild_index(123, tmp / "r"),
        "rebuild_index(keep='3')": lambda i: simkit.rebuild_index([EXAMPLES], tmp / "r", keep="3"),
        "rebuild_index(keep=0)": lambda i: simkit.rebuild_index([EXAMPLES], tmp / "r", keep=0),
        "rebuild_index(force='yes')": lambda i: simkit.rebuild_index([EXAMPLES], tmp / "r", force="yes"),
        "parse_report(None)": lambda i: simkit.parse_report(None),
        "parse_report(b'x')": lambda i: simkit.parse_report(b"x.txt"),
        "parse_report(region=1)": lambda i: simkit.parse_report(EXAMPLES / "siping-2023.txt", region=1),
        "parse_report(missing)": lambda i: simkit.parse_report(tmp / "none.txt"),
        "list_versions(None)": lambda i: simkit.list_versions(None),
        "list_versions(missing)": lambda i: simkit.list_versions(missing),
        "rollback(123)": lambda i: simkit.rollback(123),
        "rollback(version=1)": lambda i: simkit.rollback(missing, version=1),
        "Filters(provinces=1)": lambda i: simkit.Filters(provinces=1),
        "Filters(years=object())": lambda i: simkit.Filters(years=object()),
        "search(None)": lambda i: i.search(None),
        "search('')": lambda i: i.search("  "),
        "search(mode=1)": lambda i: i.search(QUERY, mode=1),
        "search(mode='fast')": lambda i: i.search(QUERY, mode="fast"),
        "search(filters='x')": lambda i: i.search(QUERY, filters="x"),
        "search(include_boilerplate='no')": lambda i: i.search(QUERY, include_boilerplate="no"),
        "similar(None)": lambda i: i.similar(None),
        "similar(unknown)": lambda i: i.similar("nope"),
        "similar(k=0)": lambda i: i.similar("nope", k=0),
        "similar(exclude_same_region=None)": lambda i: i.similar("nope", exclude_same_region=None),
        "similar(threshold=nan)": lambda i: i.similar("nope", threshold=math.nan),
        "regions_like(b'x')": lambda i: i.regions_like(b"x"),
        "regions_like(k=-1)": lambda i: i.regions_like(QUERY, k=-1),
        "paragraph(None)": lambda i: i.paragraph(None),
        "paragraph([])": lambda i: i.paragraph([]),
        "paragraph(unknown)": lambda i: i.paragraph("nope"),
        "recommend_for_region(None)": lambda i: i.recommend_for_region(None),
        "recommend_for_region(unknown)": lambda i: i.recommend_for_region("火星市"),
        "recommend_for_region(k=0)": lambda i: i.recommend_for_region("石狮市", k=0),
        "clusters('2')": lambda i: i.clusters("2"),
        "clusters(None)": lambda i: i.clusters(None),
        "clusters(0)": lambda i: i.clusters(0),
        "initiatives_of(None)": lambda i: i.initiatives_of(None),
        "initiatives_of(unknown)": lambda i: i.initiatives_of("火星市"),
        "initiatives_of(min_regions=0)": lambda i: i.initiatives_of("石狮市", min_regions=0),
        "missing_initiatives(1)": lambda i: i.missing_initiatives(1),
        "missing_initiatives(unknown)": lambda i: i.missing_initiatives("火星市"),
        "missing_initiatives(peers=nan)": lambda i: i.missing_initiatives("石狮市", peers=math.nan),
    }


CALL_NAMES = list(_calls(Path("/"), Path("/")))
EXPECTED = {"open_index(missing)": IndexLoadError, "SimkitIndex(version='v1')": NotFoundError,
            "SimkitIndex(version='../..')": NotFoundError, "list_versions(missing)": IndexLoadError,
            "similar(unknown)": NotFoundError, "paragraph(unknown)": NotFoundError,
            "recommend_for_region(unknown)": NotFoundError, "initiatives_of(unknown)": NotFoundError,
            "missing_initiatives(unknown)": NotFoundError, "build_index(embed_context='x')": BuildError,
            "rebuild_index(keep=0)": BuildError, "parse_report(missing)": InputError}


@pytest.mark.parametrize("name", CALL_NAMES)
def test_every_public_call_raises_a_simkit_error_for_bad_arguments(index, markup_index_dir, tmp_path, name):
    """Must show (issue 16): library calls raise only SimkitError subclasses for bad arguments, as docs/errors.md
    lists: QueryError for a wrong type or value, the others where the value is well-formed but names nothing."""
    call = _calls(markup_index_dir, tmp_path)[name]
    with pytest.raises(SimkitError) as info:
        call(index)
    assert type(info.value) is EXPECTED.get(name, QueryError), str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "b").exists() and not (tmp_path / "r").exists()  # refused before writing anything
