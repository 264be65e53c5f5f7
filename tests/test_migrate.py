"""Migrations on an empty database (SQLite and, in the PostgreSQL run, PostgreSQL) and the schema check."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from portal import migrate
from portal.config import Settings
from portal.db import Base, Database
from portal.errors import NotInitialised


@pytest.fixture
def empty_db(tmp_path, database_template):
    kind, where = database_template
    if kind == "sqlite":
        db = Database(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
        yield db
        db.dispose()
        return
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = make_url(where)
    name = f"portal_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(Settings(home=tmp_path, database_url=server.set(database=name).render_as_string(False)))
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_empty_database_is_refused_with_what_to_run(empty_db):
    with pytest.raises(NotInitialised, match="portal init"):
        migrate.check_schema(empty_db)


def test_upgrade_creates_every_table_and_is_idempotent(empty_db):
    assert migrate.upgrade(empty_db) is True
    migrate.check_schema(empty_db)
    tables = set(inspect(empty_db.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert migrate.upgrade(empty_db) is False


def test_models_and_migrations_agree(empty_db):
    """Autogenerate finds nothing to do: every model change has its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_newer_database_is_refused(empty_db):
    migrate.upgrade(empty_db)
    with empty_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future' "
                          "WHERE version_num = (SELECT MIN(version_num) FROM alembic_version)"))
    with pytest.raises(NotInitialised, match="newer version"):
        migrate.check_schema(empty_db)
    with pytest.raises(NotInitialised, match="newer version"):
        migrate.upgrade(empty_db)


def test_server_refuses_to_start_on_unmigrated_database(empty_db):
    import asyncio

    from portal.app import create_app

    app = create_app(empty_db.settings)

    async def start():
        async with app.router.lifespan_context(app):
            pass

    # In a thread of its own: Playwright's session fixture may hold an event loop in this one.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool, pytest.raises(NotInitialised, match="portal init"):
        pool.submit(asyncio.run, start()).result()
