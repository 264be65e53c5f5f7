"""Locks that hold across processes (several portal workers, the CLI, background jobs) and, on PostgreSQL,
across machines.

``held()`` is a file lock in the data home: it serialises the processes of one node. ``shared()`` is the
lock every node must respect (the content repository's writes, several nodes following one remote): a
PostgreSQL session-level advisory lock when the database is PostgreSQL — the one thing all nodes reach — and
the same file lock on SQLite, which is one machine by nature.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from portal.errors import Conflict
from portal.i18n import message

ADVISORY_POLL_SECONDS = 0.05


def _busy(what: str, timeout: float) -> Conflict:
    return Conflict(message("errors_core.lock_busy", what=what, seconds=f"{timeout:g}"))


@contextlib.contextmanager
def held(lock_dir: Path, name: str, *, timeout: float, what: str) -> Iterator[None]:
    """Hold the named lock, waiting up to ``timeout`` seconds; on time-out answer 409 saying what was busy."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{name}.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise _busy(what, timeout) from None
    try:
        yield
    finally:
        lock.release()


def advisory_key(name: str) -> int:
    """The lock's name as PostgreSQL's 64-bit advisory key (stable across nodes and versions)."""
    return int.from_bytes(hashlib.sha256(f"portal:{name}".encode()).digest()[:8], "big", signed=True)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine(database_url: str) -> Engine:
    """An engine apart from the requests' pools, for lock holders and the content head record: a connection of
    its own per use (NullPool), so an advisory lock lives exactly as long as its holder's session and a crashed
    holder's lock ends with its connection — nothing to clean up by hand."""
    with _engines_lock:
        found = _engines.get(database_url)
        if found is None:
            found = _engines[database_url] = create_engine(database_url, poolclass=NullPool)
        return found


@contextlib.contextmanager
def advisory(database_url: str, name: str, *, timeout: float, what: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock (every node connected to the database sees it)."""
    key = advisory_key(name)
    deadline = time.monotonic() + timeout
    with engine(database_url).connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        while not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
            if time.monotonic() >= deadline:
                raise _busy(what, timeout)
            time.sleep(ADVISORY_POLL_SECONDS)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def shared(settings, name: str, *, timeout: float, what: str) -> contextlib.AbstractContextManager[None]:
    """The lock all nodes respect: advisory on PostgreSQL, the data home's file lock on SQLite."""
    if settings.uses_postgresql:
        return advisory(settings.effective_database_url, name, timeout=timeout, what=what)
    return held(settings.locks_path, name, timeout=timeout, what=what)
