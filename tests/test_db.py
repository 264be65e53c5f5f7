"""SQLite settings that matter in production: WAL, foreign keys, busy timeout, BEGIN IMMEDIATE for writes."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from portal.accounts.models import Organization


@pytest.fixture
def sqlite_db(tmp_path):
    """Always SQLite, also in the PostgreSQL run: these are the embedded default's own settings."""
    from portal import migrate
    from portal.config import Settings
    from portal.db import Database

    database = Database(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'wal.db'}"))
    migrate.upgrade(database)
    yield database
    database.dispose()


def test_pragmas(sqlite_db):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_concurrent_writers_wait_instead_of_failing(sqlite_db):
    """Two write transactions that read first then write: with deferred BEGIN the second fails
    'database is locked' at once; with BEGIN IMMEDIATE it waits for the first and succeeds."""
    errors: list[Exception] = []
    first_has_lock = threading.Event()

    def writer(slug: str, hold: float):
        try:
            with sqlite_db.session_scope() as s:
                s.execute(text("SELECT count(*) FROM organizations")).scalar()
                first_has_lock.set()
                time.sleep(hold)
                s.add(Organization(slug=slug, name=slug))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t1 = threading.Thread(target=writer, args=("one", 0.5))
    t1.start()
    first_has_lock.wait(5)
    t2 = threading.Thread(target=writer, args=("two", 0))
    t2.start()
    t1.join()
    t2.join()
    assert errors == []
    with sqlite_db.session_scope(write=False) as s:
        assert s.execute(text("SELECT count(*) FROM organizations")).scalar() == 2


def test_readers_are_not_blocked_by_a_writer(sqlite_db):
    with sqlite_db.session_scope() as s:
        s.add(Organization(slug="a", name="A"))
    writer = sqlite_db.session(write=True)
    writer.execute(text("INSERT INTO organizations (slug, name, created_at) VALUES ('b', 'B', '2026-01-01')"))
    started = time.monotonic()
    with sqlite_db.session_scope(write=False) as reader:
        assert reader.execute(text("SELECT count(*) FROM organizations")).scalar() == 1
    assert time.monotonic() - started < 2
    writer.rollback()
    writer.close()


def test_foreign_keys_are_enforced(db):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with db.session_scope() as s:
            s.execute(text("INSERT INTO users (username, role, organization_id, full_name, password_hash, is_active, "
                           "language, created_at, password_changed_at) VALUES ('x', 'customer', 999, '', 'h', true, "
                           "'ru', '2026-01-01', '2026-01-01')"))
