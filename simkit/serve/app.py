"""The HTTP application of ``simkit serve``: read-only routes over one :class:`~simkit.serve.versions.ServedIndex`.

* Bodies are the results' ``to_dict()`` through :func:`simkit.results.json_data`, the path ``--json``
  takes too: ``GET /search`` answers what ``simkit search --json`` prints. The OpenAPI document
  (``/openapi.json``, ``/docs``) describes them with the same dataclasses as its schemas.
* Every answer from the index carries the ``Simkit-Version`` header: the version it was computed on.
* Errors are one JSON object, ``{"error": "<one line>", "status": <code>}``, mapped in one place
  (:func:`status_of`): 404 for what does not exist, 422 for invalid parameters (naming them), 413 for
  a query text or body over the limits, 401 without the token, 503 while the index cannot be served,
  and 500 with a one-line message (the traceback goes to the server's log, never into a body).

This module leaves ``from __future__ import annotations`` out on purpose: FastAPI reads the routes'
annotations at run time, and the parameter models are built per application (their limits are settings).
"""

import hmac
import json
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import fields
from typing import Annotated, Any, Literal, get_type_hints

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.exceptions import HTTPException

import simkit
from simkit.api import SimkitIndex
from simkit.arguments import regions_k
from simkit.errors import IndexLoadError, ModelError, NotFoundError, QueryError, SimkitError
from simkit.pipeline.versions import VersionInfo, list_versions
from simkit.results import (
    ClusterSet,
    IndexInfo,
    Initiative,
    MissingInitiative,
    ParagraphRecord,
    RegionInitiatives,
    RegionMatrix,
    RegionMissing,
    RegionRecommendations,
    SearchResult,
    json_data,
)
from simkit.search.filters import Filters
from simkit.serve.settings import ServeSettings, is_loopback
from simkit.serve.versions import ServedIndex

log = logging.getLogger("simkit.serve")

VERSION_HEADER = "Simkit-Version"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MODES = Literal["dense", "lexical", "hybrid"]
ROLES = Literal["measure", "plan", "problem", "leadership", "overview"]
ISSUER_KINDS = Literal["government", "department", "party-government"]
REPORT_KINDS = Literal["report", "interpretation", "plan", "other"]


class JSONBody(JSONResponse):
    """JSON as ``--json`` writes it (Chinese as it is), without the indentation."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ErrorBody(BaseModel):
    """Every error: one line saying what is wrong and what to do, and the status code."""

    error: str
    status: int


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """``ready`` once the index is open and warm; ``version``: the version new requests answer from;
    ``problem``: why the index (or the newest published version) could not be opened."""

    status: Literal["ready", "starting", "failed"]
    version: str | None
    problem: str | None


def status_of(exc: SimkitError) -> int:
    """The HTTP status of a library error: the one mapping, as :mod:`simkit.cli.errors` maps exit codes."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, QueryError):
        return 422
    if isinstance(exc, IndexLoadError | ModelError):
        return 503
    return 500


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONBody:
    return JSONBody({"error": " ".join(message.split()), "status": status}, status_code=status, headers=headers)


def _shown(value: Any) -> str:
    """A parameter's value in a message: as sent (a query string's text without quotes), cut to 60 characters."""
    text = value if isinstance(value, str) and value.isprintable() and "'" not in value else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_message(errors: list[dict[str, Any]]) -> str:
    """The parameters that failed validation, in one line: ``k=500: Input should be less than or equal to 100``."""
    parts = []
    for error in errors:
        loc = list(error.get("loc", ()))
        name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:]).lstrip(".")
        name = name or (str(loc[0]) if loc else "request")
        kind = error.get("type", "")
        if kind == "missing":
            parts.append(f"{name}: required")
        elif kind == "extra_forbidden":
            parts.append(f"{name}: unknown parameter; see /docs")
        elif kind == "json_invalid":
            parts.append(f"body: not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})")
        else:
            parts.append(f"{name}={_shown(error.get('input'))}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


# --------------------------------------------------------------------------- guards below the routes


class Guard:
    """ASGI middleware: refuses a body over ``max_body_bytes`` (413) and, on a loopback bind, a ``Host``
    header that is not a loopback name or an allowed one (400: DNS rebinding from a web page)."""

    def __init__(self, app: Any, *, max_body_bytes: int, hosts: tuple[str, ...] | None) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.hosts = hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if self.hosts is not None:
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in self.hosts:
                refused = error_response(400, f"Host {host[:100]!r} is not served here; the server answers "
                                              f"{', '.join(self.hosts)} (add names with --allow-host)")
                await refused(scope, receive, send)
                return
        too_large = (f"request body over the limit of {self.limit} bytes; send a shorter query "
                     "(the limit is the server's --max-body-bytes)")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await error_response(413, too_large)(scope, receive, send)
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:  # a chunked body, or one longer than it said
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited, send)


# --------------------------------------------------------------------------- parameters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterParams(_Strict):
    """The filters of ``simkit search`` (``simkit.Filters``), named as its options; lists repeat the parameter
    (``?province=福建&province=浙江``)."""

    province: list[str] = Field([], description="Only reports of these provinces (福建 or 福建省).")
    region: list[str] = Field([], description="Only reports of these regions (石狮市).")
    exclude_region: list[str] = Field([], description="Leave out these regions.")
    year: list[int] = Field([], description="Only reports covering these years.")
    since: int | None = Field(None, description="Only reports covering this year or later.")
    until: int | None = Field(None, description="Only reports covering this year or earlier.")
    adcode: str | None = Field(None, description="Only regions whose admin code starts with this (3505).")
    issuer_kind: list[ISSUER_KINDS] = Field([], description="Only reports issued by a government, a department "
                                             "or party and government jointly.")
    issuer: list[str] = Field([], description="Only reports whose issuer's name contains this (司法局).")
    report_kind: list[REPORT_KINDS] = Field([], description="Only documents of this kind (report = annual "
                                            "reports, interpretation, plan, other).")
    role: list[ROLES] = Field([], description="Only paragraphs of these roles (measure = work carried out).")
    include_boilerplate: bool = Field(False, description="Also match generic formula passages (套话).")


def filters_of(params: Any) -> Filters:
    """The :class:`~simkit.search.filters.Filters` of search or similar parameters (QueryError: 422)."""
    return Filters.from_options(params.model_dump())


def _ranking_fields(settings: ServeSettings) -> dict[str, Any]:
    return {
        "k": (int | None, Field(None, ge=1, le=settings.max_k,
                                description="Number of regions [default: 5, or all above threshold].")),
        "hits": (int, Field(3, ge=1, le=settings.max_hits, description="Paragraphs per region.")),
        "mode": (MODES | None, Field(None, description="dense, lexical or hybrid [default: hybrid].")),
        "threshold": (float | None, Field(None, ge=0, le=1, description=(
            "Every region whose best paragraph reaches this calibrated score (0-1) instead of a fixed k."))),
    }


def parameter_models(settings: ServeSettings) -> tuple[type[BaseModel], type[BaseModel]]:
    """The parameters of search and similar, with the limits of ``settings`` (shown in the OpenAPI document)."""
    filters = {name: (field.annotation, field) for name, field in FilterParams.model_fields.items()}
    text = (str, Field(min_length=1, description=(f"The query: a measure's text, Chinese or English (at most "
                                                  f"{settings.max_query_chars} characters).")))
    search = create_model("SearchParams", __base__=_Strict, text=text, **_ranking_fields(settings), **filters)
    same = (bool, Field(False, description="Also the paragraph's own region."))
    similar = create_model("SimilarParams", __base__=_Strict, **_ranking_fields(settings), include_same_region=same,
                           **filters)
    return search, similar


def missing_schema() -> type[BaseModel]:
    """The schema of ``GET /regions/{region}/missing-initiatives`` (``RegionMissing.to_dict()``), derived from
    the dataclasses: each entry is an :class:`Initiative` without its units, with ``first_year`` and the
    fields of :class:`MissingInitiative` (:meth:`MissingInitiative.summary`)."""
    def typed(kind: type, leave_out: str) -> dict[str, Any]:
        hints = get_type_hints(kind)
        return {f.name: (hints[f.name], ...) for f in fields(kind) if f.name != leave_out}

    summary = create_model("MissingInitiativeSummary", **typed(Initiative, "units"), first_year=(int | None, ...),
                           **typed(MissingInitiative, "initiative"))
    return create_model("RegionMissing", region=(str, ...), missing=(list[summary], ...))  # type: ignore[valid-type]


# --------------------------------------------------------------------------- the application


def default_opener(settings: ServeSettings) -> Callable[[], SimkitIndex]:
    return lambda: SimkitIndex(settings.index_dir, model=settings.model, query_engine=settings.query_engine)


def create_app(settings: ServeSettings, *, opener: Callable[[], SimkitIndex] | None = None) -> FastAPI:
    """The application answering from the index of ``settings`` (``opener``: how to open it, for tests).

    The index is opened in a background thread when the application starts (``/readyz`` says when it is
    ready; until then the index routes answer 503) and closed when it stops.
    """
    settings = settings.checked()
    served = ServedIndex(opener or default_opener(settings), reload_interval=settings.reload_interval)
    token = settings.token()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        served.start()
        try:
            yield
        finally:
            served.close()

    app = FastAPI(
        title="simkit", version=simkit.__version__, lifespan=lifespan, default_response_class=JSONBody,
        description="Which regions did something similar? Search, similar paragraphs, recommendations and "
                    "recurring initiatives of Chinese rule-of-law reports, read-only. Bodies are the JSON of "
                    "the command line's `--json`; each answer names its index version in the "
                    f"`{VERSION_HEADER}` header. See docs/serve.md.",
    )
    app.state.served = served
    app.state.settings = settings
    hosts = (*LOOPBACK_HOSTS, *settings.allowed_hosts) if is_loopback(settings.host) else None
    app.add_middleware(Guard, max_body_bytes=settings.max_body_bytes,  # type: ignore[arg-type]
                       hosts=tuple(h.lower() for h in hosts) if hosts is not None else None)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),  # type: ignore[arg-type]
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"],
                           expose_headers=[VERSION_HEADER])
    _add_error_handlers(app)

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Any:
        """The process answers (liveness)."""
        return JSONBody({"status": "ok"})

    @app.get("/readyz", response_model=Readiness, tags=["service"],
             responses={503: {"model": Readiness, "description": "Not ready: starting, or the index cannot be opened"}})
    def readyz() -> Any:
        """Whether the index is open and warm (readiness); 503 until it is."""
        if served.ready:
            return JSONBody({"status": "ready", "version": served.version, "problem": served.problem})
        status = "failed" if served.problem else "starting"
        return JSONBody({"status": status, "version": None, "problem": served.problem}, status_code=503)

    add_index_routes(app, served, settings, token)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SimkitError)
    async def simkit_error(request: Request, exc: SimkitError) -> JSONBody:
        return error_response(status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONBody:
        return error_response(422, validation_message(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONBody:
        message = str(exc.detail)
        if exc.status_code in (404, 405) and message in ("Not Found", "Method Not Allowed"):  # the router's own
            message = f"{request.method} {request.url.path}: no such endpoint; /docs lists them"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONBody:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"internal error ({type(exc).__name__}); the server's log has the details")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what} for code, what in (
        (401, "No or a wrong bearer token (when the server has a --token-file)"),
        (404, "No such paragraph, region, initiative or version"),
        (413, "Query text or request body over the server's limit"),
        (422, "Invalid parameters, named in the message"),
        (503, "The index is not open yet, or cannot be opened"),
    )
}


def add_index_routes(app: FastAPI, served: ServedIndex, settings: ServeSettings, token: str | None) -> None:
    """The routes that answer from the index, each under a lease (see :class:`ServedIndex`), behind the token."""
    dependencies = []
    if token is not None:
        bearer = HTTPBearer(auto_error=False, description="The token in the server's --token-file.")
        expected = token.encode("utf-8")

        def check_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
            given = (credentials.credentials if credentials is not None else "").encode("utf-8")
            if not hmac.compare_digest(given, expected):
                raise HTTPException(401, "a bearer token is required: send the header 'Authorization: Bearer TOKEN' "
                                         "with the token of the server's --token-file",
                                    headers={"WWW-Authenticate": "Bearer"})

        dependencies.append(Depends(check_token))

    def route(method: str, path: str, **options: Any) -> Callable[[Any], Any]:
        return app.api_route(path, methods=[method], dependencies=dependencies, responses=ERRORS, **options)

    search_params, similar_params = parameter_models(settings)
    limit = settings.max_query_chars

    def answer(result: Any, index: SimkitIndex) -> JSONBody:
        return JSONBody(json_data(result), headers={VERSION_HEADER: index.version.name})

    def run_search(params: Any) -> JSONBody:
        text = params.text
        if len(text) > limit:
            raise HTTPException(413, f"query of {len(text)} characters is longer than the limit of {limit}; "
                                     "search with a shorter passage (the limit is the server's --max-query-chars)")
        filters = filters_of(params)
        with served.lease() as index:
            return answer(index.search(text, k=regions_k(params.k, params.threshold), hits=params.hits,
                                       mode=params.mode, filters=filters, threshold=params.threshold), index)

    @route("GET", "/search", response_model=SearchResult, tags=["search"])
    def search(params: Annotated[search_params, Query()]) -> Any:  # type: ignore[valid-type]
        """Regions whose reports hold paragraphs most similar to `text` (`simkit search --json`)."""
        return run_search(params)

    @route("POST", "/search", response_model=SearchResult, tags=["search"])
    def search_post(params: search_params) -> Any:  # type: ignore[valid-type]
        """`GET /search` with the parameters in a JSON body, for a long query text (`simkit search --json`)."""
        return run_search(params)

    @route("GET", "/similar/{paragraph_id:path}", response_model=SearchResult, tags=["search"])
    def similar(paragraph_id: str, params: Annotated[similar_params, Query()]) -> Any:  # type: ignore[valid-type]
        """Other regions' paragraphs most similar to a stored paragraph (`simkit similar --json`)."""
        filters = filters_of(params)
        with served.lease() as index:
            return answer(index.similar(paragraph_id, k=regions_k(params.k, params.threshold), hits=params.hits,
                                        exclude_same_region=not params.include_same_region, mode=params.mode,
                                        filters=filters, threshold=params.threshold), index)

    @route("GET", "/paragraphs/{paragraph_id:path}", response_model=ParagraphRecord, tags=["search"])
    def paragraph(paragraph_id: str) -> Any:
        """One stored paragraph with its report's metadata (`simkit show --json`)."""
        with served.lease() as index:
            return answer(index.paragraph(paragraph_id), index)

    k_limit = settings.max_k
    peers_query = Query(10, ge=1, le=k_limit, description="How many of the most similar regions count as peers.")
    support_query = Query(2, ge=1, le=k_limit, description="Peer regions that must have a measure or initiative.")
    # Bounded too: each value of min_regions keeps its own clustering view for the life of the version.
    min_regions_query = Query(2, ge=1, le=k_limit, description="Only initiatives found in at least this many regions.")

    @route("GET", "/regions/{region}/recommendations", response_model=RegionRecommendations, tags=["regions"])
    def recommendations(region: str, k: int = Query(10, ge=1, le=k_limit, description="Number of measures."),
                        peers: int = peers_query, min_support: int = support_query) -> Any:
        """Measures that the region's most similar regions reported and it has not (`simkit recommend --json`)."""
        with served.lease() as index:
            found = index.recommend_for_region(region, k, peers=peers, min_support=min_support)
            return answer(RegionRecommendations(region, found), index)

    @route("GET", "/regions/{region}/initiatives", response_model=RegionInitiatives, tags=["regions"])
    def region_initiatives(region: str, min_regions: int = min_regions_query) -> Any:
        """The recurring initiatives the region takes part in."""
        with served.lease() as index:
            return answer(RegionInitiatives(region, index.initiatives_of(region, min_regions)), index)

    @route("GET", "/regions/{region}/missing-initiatives", response_model=missing_schema(), tags=["regions"])
    def missing_initiatives(region: str, peers: int = peers_query, min_support: int = support_query,
                            min_regions: int = min_regions_query) -> Any:
        """Initiatives the region's closest peers have and it has not (`simkit matrix --missing REGION --json`)."""
        with served.lease() as index:
            found = index.missing_initiatives(region, peers=peers, min_support=min_support, min_regions=min_regions)
            return answer(RegionMissing(region, found), index)

    @route("GET", "/initiatives", response_model=ClusterSet, tags=["initiatives"])
    def initiatives(min_regions: int = min_regions_query) -> Any:
        """Recurring initiatives: measures of different reports grouped by what they do (`simkit clusters --json`)."""
        with served.lease() as index:
            return answer(index.clusters(min_regions), index)

    @route("GET", "/initiatives/matrix", response_model=RegionMatrix, tags=["initiatives"])
    def matrix(min_regions: int = min_regions_query) -> Any:
        """Region × initiative table with years and status (`simkit matrix --json`)."""
        with served.lease() as index:
            return answer(index.region_matrix(min_regions), index)

    @route("GET", "/initiatives/{initiative_id}", response_model=Initiative, tags=["initiatives"])
    def initiative(initiative_id: str) -> Any:
        """One recurring initiative by its id (as listed by `GET /initiatives`), whatever its number of regions."""
        with served.lease() as index:
            clusters = index.clusters(min_regions=1)
            for found in clusters.clusters:
                if found.id == initiative_id:
                    return answer(found, index)
            raise NotFoundError(f"no initiative {initiative_id[:60]!r} in version {clusters.version}; "
                                "GET /initiatives lists them")

    @route("GET", "/info", response_model=IndexInfo, tags=["index"])
    def info() -> Any:
        """The served version, model, counts, reports and the last rebuild's report (`simkit info --json`)."""
        with served.lease() as index:
            return answer(index.info(), index)

    @route("GET", "/versions", response_model=list[VersionInfo], tags=["index"])
    def versions() -> Any:
        """The index's published versions, oldest first; `current` marks the one CURRENT names
        (`simkit versions --json`). The header names the version this server answers from."""
        # The listing reads the index directory, not the served version: no lease (nor its query lock).
        headers = {VERSION_HEADER: served.version} if served.version else {}
        return JSONBody(json_data(list_versions(settings.index_dir)), headers=headers)
