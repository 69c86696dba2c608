"""Running the application: uvicorn with ``--workers`` processes, each opening the index once.

The settings reach each worker as JSON in ``$SIMKIT_SERVE_SETTINGS`` (uvicorn starts workers by importing
:func:`app_from_env`); the token file's path travels, the token is read by each worker. SIGTERM or
SIGINT stops accepting connections, lets running requests finish (at most :data:`GRACEFUL_SECONDS`)
and closes the index.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from simkit.serve.settings import ServeSettings
from simkit.store.layout import current_version

SETTINGS_ENV = "SIMKIT_SERVE_SETTINGS"
GRACEFUL_SECONDS = 10
"""How long a stopping server waits for running requests before it closes their connections."""


def _log_to_stderr() -> None:
    """simkit's own log lines (versions served, swaps, errors) beside uvicorn's, on stderr."""
    logger = logging.getLogger("simkit")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def app_from_env() -> Any:
    """The application of the settings in ``$SIMKIT_SERVE_SETTINGS`` (uvicorn's factory in each worker)."""
    from simkit.serve.app import create_app

    _log_to_stderr()
    return create_app(ServeSettings.from_json(os.environ[SETTINGS_ENV]))


def run(settings: ServeSettings) -> None:
    """Serve until stopped. The settings and the index's current version are checked first, so a mistake is
    an error here rather than a server that answers 503 (a damaged version still is: /readyz says why)."""
    import uvicorn

    settings = settings.checked()
    current_version(settings.index_dir)  # no index, a damaged CURRENT or manifest: IndexLoadError now
    _log_to_stderr()
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run("simkit.serve.server:app_from_env", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, access_log=settings.access_log, server_header=False,
                timeout_graceful_shutdown=GRACEFUL_SECONDS, log_level="info")
