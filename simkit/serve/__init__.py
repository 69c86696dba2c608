"""``simkit serve``: the search and recommendation features over HTTP, answering through nightly rebuilds.

A layer above :mod:`simkit.api` (and beside :mod:`simkit.evaluation`); only the command line imports it,
and only when ``simkit serve`` runs. FastAPI and uvicorn are an optional extra (``pip install
'simkit[serve]'``), imported by :mod:`~simkit.serve.app` and :mod:`~simkit.serve.server`, never here:

* :mod:`~simkit.serve.settings` ``ServeSettings``: bind address, token, limits, checked before anything starts;
* :mod:`~simkit.serve.versions` ``ServedIndex``: the handle each request leases, swapped between requests
  when ``CURRENT`` moves, closed (so prunable) only once the last request on it has finished;
* :mod:`~simkit.serve.app` ``create_app``: the routes, whose JSON bodies are the results' ``to_dict()``
  (the contracts of ``--json``), and the one mapping of errors to status codes;
* :mod:`~simkit.serve.server` ``run``: uvicorn, workers, graceful shutdown.

docs/serve.md describes the endpoints, settings and security defaults.
"""

from __future__ import annotations

import importlib

from simkit.errors import ConfigError

INSTALL_HINT = "pip install 'simkit[serve]'"


def require_installed() -> None:
    """Raise :class:`~simkit.errors.ConfigError` naming the extra to install when FastAPI or uvicorn is missing."""
    missing = []
    for name in ("fastapi", "uvicorn"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ConfigError(f"simkit serve needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                          f"not installed; install the extra with: {INSTALL_HINT}")
