"""The settings of ``simkit serve``: where it listens, who may ask, and the limits on what they may ask.

Checked before the server starts (:meth:`ServeSettings.checked`), so a mistake is one ``Error:`` line,
never a server that starts and then refuses everything. Passed to each uvicorn worker as JSON
(:meth:`ServeSettings.to_json`): the token file's path travels, never the token.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import stat
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from simkit.config import index_dir as resolve_index_dir
from simkit.config import max_query_chars
from simkit.errors import ConfigError

log = logging.getLogger("simkit.serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_K = 100
"""The most regions (``k``), measures (``k`` of recommendations), peers, ``min_support`` or ``min_regions`` one
request may ask for."""
MAX_HITS = 20
"""The most paragraphs per region (``hits``) one request may ask for."""
MAX_BODY_BYTES = 64 * 1024
"""The largest request body read: a query at the default length limit (8,000 characters), even written as
``\\uXXXX`` escapes (6 bytes each), fits."""
RELOAD_INTERVAL = 2.0
"""Seconds between two looks at ``CURRENT`` for a newly published version."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``; any other name is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """How ``simkit serve`` runs; see docs/serve.md#settings.

    ``token_file`` holds the bearer token every request but ``/healthz``, ``/readyz`` and the API's
    description must carry; it is required when ``host`` is not a loopback address. ``max_query_chars``
    None is the library's limit (``$SIMKIT_MAX_QUERY_CHARS``, else 8,000). ``cors_origins`` empty: no
    CORS headers at all (browsers on other origins cannot call the server). On a loopback ``host`` only
    requests naming a loopback host (``Host: 127.0.0.1:8080``) or one of ``allowed_hosts`` (a reverse
    proxy's name) are answered, so that a web page cannot reach the server through DNS rebinding.
    """

    index_dir: Path = field(default_factory=resolve_index_dir)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    token_file: Path | None = None
    model: str | None = None
    query_engine: str | None = None
    max_k: int = MAX_K
    max_hits: int = MAX_HITS
    max_query_chars: int | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    reload_interval: float = RELOAD_INTERVAL
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    access_log: bool = True

    def checked(self) -> ServeSettings:
        """These settings with the defaults resolved; :class:`ConfigError` for any that cannot be used."""
        for name in ("workers", "max_k", "max_hits", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r}: give a whole number of at least 1")
        from simkit.embedding.embedder import QUERY_ENGINES

        if self.query_engine is not None and self.query_engine not in QUERY_ENGINES:
            raise ConfigError(f"query_engine={self.query_engine!r}: give one of {', '.join(QUERY_ENGINES)}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ConfigError(f"port={self.port!r}: give a port number from 1 to 65535")
        if not self.reload_interval > 0:
            raise ConfigError(f"reload_interval={self.reload_interval!r}: give a number of seconds above 0")
        try:
            library_limit = max_query_chars()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        limit = self.max_query_chars if self.max_query_chars is not None else library_limit
        if limit < 1:
            raise ConfigError(f"max_query_chars={limit}: give a whole number of characters of at least 1")
        if limit > library_limit:  # the library refuses longer queries itself
            raise ConfigError(f"max_query_chars={limit} is above the library's limit of {library_limit}; "
                              f"raise $SIMKIT_MAX_QUERY_CHARS to at least {limit} as well")
        if self.token_file is None and not is_loopback(self.host):
            raise ConfigError(f"--host {self.host} is not a loopback address: anyone who reaches it could query the "
                              "index; give --token-file FILE (a bearer token every request must carry) or bind "
                              f"{DEFAULT_HOST}")
        settings = replace(self, index_dir=Path(self.index_dir), max_query_chars=limit,
                           token_file=Path(self.token_file) if self.token_file is not None else None,
                           cors_origins=tuple(self.cors_origins), allowed_hosts=tuple(self.allowed_hosts))
        settings.token()  # read now: a missing or empty file stops the server before it starts
        return settings

    def token(self) -> str | None:
        """The bearer token in ``token_file`` (surrounding whitespace removed), None without a token file."""
        if self.token_file is None:
            return None
        path = self.token_file
        try:
            token = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"{path}: cannot read the token file ({reason}); give a readable file holding "
                              "one line, the token") from None
        if not token or any(c.isspace() for c in token) or not token.isprintable():
            raise ConfigError(f"{path}: the token file must hold one token: one line of printable characters "
                              "without spaces (e.g. `openssl rand -hex 32 > FILE`)")
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s: the token file is readable by other users; `chmod 600 %s`", path, path)
        return token

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["index_dir"] = str(self.index_dir)
        data["token_file"] = None if self.token_file is None else str(self.token_file)
        data["cors_origins"] = list(self.cors_origins)
        data["allowed_hosts"] = list(self.allowed_hosts)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        data = json.loads(text)
        data["index_dir"] = Path(data["index_dir"])
        data["token_file"] = None if data["token_file"] is None else Path(data["token_file"])
        data["cors_origins"] = tuple(data["cors_origins"])
        data["allowed_hosts"] = tuple(data["allowed_hosts"])
        return cls(**data)

