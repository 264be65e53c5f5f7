"""Database: declarative base, engines, sessions and the schema check.

SQLite is the embedded default, PostgreSQL the scaled one; the same code runs
on both. On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: a
deferred transaction that later upgrades to a write fails with "database is
locked" at once instead of waiting for the busy timeout, so write sessions
take the write lock up front and readers (WAL) never block them.

A write session begins its transaction at its first statement, not when it is
created, so work done before that (authentication in a read session, hashing,
rendering) holds no lock. Write transactions of one process queue at a
``WriteGate`` before they begin — one at a time on SQLite, as many as the pool
has connections on PostgreSQL — so a burst waits its turn in order here instead
of spinning in SQLite's busy handler until the busy timeout; a wait longer than
``PORTAL_WRITE_WAIT_SECONDS`` answers 503 with Retry-After, never 500.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from portal.config import Settings
from portal.errors import Unavailable
from portal.i18n import message

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections beyond the worker threads: the job scheduler's thread and the odd nested read.
POOL_SPARE = 4

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use utcnow()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WriteGate:
    """A FIFO semaphore for write transactions: the longest waiter goes next, a newcomer never jumps the queue.

    Waiting here costs nothing but a thread; waiting in SQLite's busy handler costs sleeps of growing length
    and polls, and lets a late arrival take the lock before one that has waited for seconds.
    """

    def __init__(self, slots: int):
        self.slots = slots
        self._mutex = threading.Lock()
        self._free = slots
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True
        with self._mutex:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                return True  # the slot was handed over just as the wait ran out: it is ours
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # hand the slot over directly, so nobody can barge in
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._waiters)


_GATE_KEY = "portal_write_gate"


def write_busy(wait_seconds: float) -> Unavailable:
    return Unavailable(
        message("errors_core.write_busy", seconds=f"{wait_seconds:g}"),
        headers={"Retry-After": "5"},
    )


def _install_write_gate(engine: Engine, gate: WriteGate, wait_seconds: float) -> None:
    """Hold ``gate`` from the begin of each write transaction (``portal_write``) until it ends, however it ends.

    The slot is taken in the ``begin`` event, before any statement, and given back after the DBAPI commit or
    rollback (the dialect's own ``do_commit``/``do_rollback`` of this engine are wrapped, so the next writer
    does not find the lock still held); a connection invalidated, closed or returned to the pool in the middle
    of a transaction gives it back too.
    """
    is_sqlite = engine.dialect.name == "sqlite"

    def give_back(info) -> None:
        if info is not None and info.pop(_GATE_KEY, None) is not None:
            gate.release()

    def info_of(dbapi_connection):
        try:
            return dbapi_connection.info
        except NotImplementedError:
            # The dialect's first connect (initialize) rolls back through SQLAlchemy's ad-hoc proxy, which has no
            # info: that connection never went through "begin", so it holds no slot.
            return None

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if not conn.get_execution_options().get("portal_write"):
            if is_sqlite:
                conn.exec_driver_sql("BEGIN")
            return
        if not gate.acquire(wait_seconds):
            raise write_busy(wait_seconds)
        conn.info[_GATE_KEY] = True
        if not is_sqlite:
            return
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            give_back(conn.info)
            # Another process (the CLI, `portal worker`) kept the lock past the busy timeout.
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise write_busy(SQLITE_BUSY_TIMEOUT_MS / 1000) from exc
            raise
        except BaseException:
            give_back(conn.info)
            raise

    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def gated_commit(dbapi_connection):
        try:
            do_commit(dbapi_connection)
        finally:
            give_back(info_of(dbapi_connection))

    def gated_rollback(dbapi_connection):
        try:
            do_rollback(dbapi_connection)
        finally:
            give_back(info_of(dbapi_connection))

    # Instance attributes: only this engine's dialect is changed. SQLAlchemy passes the pool's connection
    # proxy here, whose ``info`` is the one the begin event wrote to.
    dialect.do_commit = gated_commit  # type: ignore[method-assign]  # on purpose: this instance only
    dialect.do_rollback = gated_rollback  # type: ignore[method-assign]  # on purpose: this instance only

    for name in ("checkin", "close", "detach"):
        event.listen(engine.pool, name, lambda _dbapi, record: give_back(record.info))
    event.listen(engine.pool, "invalidate", lambda _dbapi, record, _exc: give_back(record.info))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def make_engine(url: str, *, connections: int = 10, **kw) -> Engine:
    """An engine whose pool lends ``connections`` at once without waiting (one per worker thread and spares)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A SQLite connection is a file handle: no pool limit, so no request ever waits for the pool's
        # timeout; the write gate, not the pool, bounds the writers.
        kw.setdefault("pool_size", connections)
        kw.setdefault("max_overflow", -1)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kw)
        _configure_sqlite(engine)
        return engine
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("pool_size", connections)
    kw.setdefault("max_overflow", 10)
    return create_engine(url, **kw)


def commit_then_read(session: Session) -> None:
    """Commit ``session``'s work now; whatever it loads afterwards (a response being serialised) is read in
    deferred transactions that hold no write lock and no gate slot."""
    session.commit()
    if session.info.get("portal_write"):
        session.bind = session.info["read_bind"]
        session.info["portal_write"] = False


class Database:
    """Engine plus the two session factories: read (deferred) and write (immediate)."""

    def __init__(self, settings: Settings, **engine_kw):
        self.settings = settings
        self.url = settings.effective_database_url
        self.engine = make_engine(self.url, connections=settings.worker_threads + POOL_SPARE, **engine_kw)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite has one write lock per file; PostgreSQL writers need only a connection each (make_engine
        # gives it a QueuePool of that many).
        if self.is_sqlite:
            writers = 1
        else:
            assert isinstance(self.engine.pool, QueuePool)
            writers = self.engine.pool.size()
        self.write_gate = WriteGate(writers)
        _install_write_gate(self.engine, self.write_gate, settings.write_wait_seconds)
        write_bind = self.engine.execution_options(portal_write=True)
        # Sessions carry the settings, for code that runs inside a transaction without being handed them
        # (event listeners).
        self.read_sessions = sessionmaker(bind=self.engine, expire_on_commit=False, info={"settings": settings})
        self.write_sessions = sessionmaker(bind=write_bind, expire_on_commit=False,
                                           info={"settings": settings, "portal_write": True,
                                                 "read_bind": self.engine})

    def session(self, *, write: bool) -> Session:
        return (self.write_sessions if write else self.read_sessions)()


    @contextlib.contextmanager
    def session_scope(self, *, write: bool = True) -> Iterator[Session]:
        """The unit of work for CLI commands and jobs: commit once on success, roll back on error."""
        session = self.session(write=write)
        try:
            yield session
            if write:
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
