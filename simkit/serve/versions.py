"""The index a server answers from, and how it moves to a newly published version between requests.

Each request *leases* the handle that is current when it starts (:meth:`ServedIndex.lease`) and answers
from it to the end, whatever is published meanwhile. A watcher thread looks at ``CURRENT`` every
``reload_interval`` seconds; when a rebuild (or rollback) has moved it, the new version is opened,
verified and warmed beside the old one (:meth:`simkit.api.SimkitIndex.successor`), then becomes the
handle new requests lease. The old handle is closed when its last lease ends: until then its version
stays on disk, because an open handle holds the version's ``readers.lock`` and pruning skips a version
it cannot lock (docs/operations.md#what-a-rebuild-does). A version that fails to open is logged and
the old one keeps answering.

Queries run one at a time per worker (one lock): the handle's SQLite connection and its lazily filled
caches are not made for concurrent use, and the query engine uses every core for one query anyway.
Run more workers (``--workers``) for more queries at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from simkit.api import SimkitIndex
from simkit.errors import IndexLoadError, SimkitError

log = logging.getLogger("simkit.serve")

WARM_QUERY = "推进法治政府建设"  # one hybrid search at start-up and on each swap: loads the model, BM25, calibration
WARM_QUERY_EN = "rule of law government"  # and an English one: the latent terms and translation


class NotReadyError(IndexLoadError):
    """The index is not open yet (the server is starting) or could not be opened."""


class _Lease:
    """A handle and the number of requests answering from it."""

    def __init__(self, index: SimkitIndex) -> None:
        self.index = index
        self.users = 0
        self.retired = False


def warm(index: SimkitIndex) -> None:
    """Read what the first queries would otherwise wait for: the query model, BM25 index, calibration sample,
    clustering and peer profiles (the last two only logged when they fail: only their endpoints need them)."""
    index.search(WARM_QUERY, k=1)
    index.search(WARM_QUERY_EN, k=1)
    for name in ("clustering", "peer_profiles"):
        try:
            getattr(index, name)
        except SimkitError as exc:
            log.warning("version %s: %s", index.version.name, exc)


class ServedIndex:
    """The handle requests answer from; see the module's description.

    ``opener`` opens the current version (called once, by :meth:`start`'s thread, or by :meth:`load`).
    """

    def __init__(self, opener: Callable[[], SimkitIndex], *, reload_interval: float = 2.0) -> None:
        self._opener = opener
        self._interval = reload_interval
        self._guard = threading.Lock()  # guards _current and the leases' counts
        self._query = threading.Lock()  # one query at a time
        self._current: _Lease | None = None
        self._problem: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ state

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def version(self) -> str | None:
        """The version new requests answer from (None before the index is open)."""
        current = self._current
        return None if current is None else current.index.version.name

    @property
    def problem(self) -> str | None:
        """Why the index could not be opened, or why the newest published version could not (the one before
        it answering meanwhile); None when all is well."""
        return self._problem

    # ------------------------------------------------------------------ requests

    @contextlib.contextmanager
    def lease(self) -> Iterator[SimkitIndex]:
        """The current handle, kept open (and its version on disk) until the block ends; one query at a time.

        Raises :class:`NotReadyError` while the index is not open.
        """
        with self._guard:
            lease = self._current
            if lease is None:
                raise NotReadyError(self._problem or "the index is still being opened; GET /readyz says when it is "
                                                     "ready")
            lease.users += 1
        try:
            with self._query:
                yield lease.index
        finally:
            with self._guard:
                lease.users -= 1
                close = lease.retired and lease.users == 0
            if close:
                self._close(lease)

    # ------------------------------------------------------------------ versions

    def load(self) -> None:
        """Open and warm the current version (:meth:`start` does it in its thread); raises what opening raised."""
        try:
            index = self._opener()
            try:
                warm(index)
            except BaseException:
                index.close()
                raise
        except SimkitError as exc:
            self._failed(str(exc))
            raise
        if self._stop.is_set():  # closed meanwhile
            index.close()
            return
        with self._guard:
            self._current = _Lease(index)
            self._problem = None
        log.info("serving version %s of %s", index.version.name, index.root)

    def refresh(self) -> bool:
        """Move to the version ``CURRENT`` names if it is another one; True if new requests now answer from it.

        The new version is opened, verified and warmed before the swap; requests already running finish
        on the old one, which is closed when the last of them ends. A version that fails is logged once
        (the old one keeps answering) and tried again when ``CURRENT`` moves on.
        """
        current = self._current
        if current is None:
            self.load()
            return self._current is not None
        try:
            if current.index.is_current:
                return False
            new = current.index.successor()
            if new is None:
                return False
        except SimkitError as exc:
            self._failed(str(exc))
            return False
        try:
            warm(new)
        except SimkitError as exc:
            self._failed(f"version {new.version.name}: {exc}")
            new.close()
            return False
        if self._stop.is_set():
            new.close()
            return False
        with self._guard:
            old, self._current = self._current, _Lease(new)
            self._problem = None
            if old is not None:
                old.retired = True
            close = old is not None and old.users == 0
        log.info("serving version %s (was %s)", new.version.name, current.index.version.name)
        if close and old is not None:
            self._close(old)
        return True

    def _failed(self, message: str) -> None:
        """Record why a version could not be opened; logged once per distinct message (tried every interval)."""
        if message != self._problem:
            if self._current is None:
                log.error("cannot open the index: %s", message)
            else:
                log.error("cannot move to the newly published version; %s still answers: %s", self.version, message)
        self._problem = message

    def _close(self, lease: _Lease) -> None:
        try:
            lease.index.close()
        except Exception:  # closing releases a lock and a database; nothing a request could act on
            log.exception("closing version %s", lease.index.version.name)

    # ------------------------------------------------------------------ the watcher thread

    def start(self) -> None:
        """Open the index and watch ``CURRENT`` in a background thread (requests get 503 until it is open)."""
        self._thread = threading.Thread(target=self._watch, name="simkit-versions", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except SimkitError:  # not open yet (logged by _failed): try again
                pass
            except Exception:
                log.exception("watching for new versions")
            self._stop.wait(self._interval)

    def close(self, timeout: float = 2.0) -> None:
        """Stop watching and close the handle (the watcher is not waited for beyond ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._guard:
            current, self._current = self._current, None
        if current is not None:
            with self._guard:
                current.retired = True
                close = current.users == 0
            if close:
                self._close(current)
