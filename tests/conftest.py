"""Test fixtures: a real database per test (SQLite file, or PostgreSQL), a real data home, a real HTTP server.

Set ``PORTAL_TEST_POSTGRES`` to a server URL (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
to run the suite on PostgreSQL: a fresh database is created for the run and dropped at its end; every
test starts from empty tables. Without it every test gets its own SQLite file.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import migrate, wiring
from portal.config import Settings
from portal.db import Base, Database
from portal.serving import ZeroCopyH11Protocol
from tests import factories

# The command line speaks the operator's locale (portal.cli.common.language): Russian in the suite whatever the
# developer's LANG, unless a test asks for another.
os.environ["LC_ALL"] = "C.UTF-8"

PG_SERVER = os.environ.get("PORTAL_TEST_POSTGRES")
TEST_SECRET = "test-secret-key-not-for-production"


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_SERVER if PG_SERVER else 'SQLite (a file per test)'}"


@pytest.fixture(scope="session", autouse=True)
def wired():
    """The application's hooks, as every portal process has them (``portal.wiring``)."""
    wiring.wire()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database to start every test from: a SQLite file to copy, or a PostgreSQL URL."""
    if PG_SERVER:
        server = make_url(PG_SERVER)
        name = f"portal_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        db = Database(Settings(home=tmp_path_factory.mktemp("pg-home"), database_url=url))
        migrate.upgrade(db)
        db.dispose()
        yield ("postgresql", url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
        db = Database(Settings(home=path.parent, database_url=f"sqlite:///{path}"))
        migrate.upgrade(db)
        db.dispose()
        yield ("sqlite", str(path))


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(database_template, tmp_path) -> str:
    kind, where = database_template
    if kind == "postgresql":
        _empty_postgres(where)
        return where
    target = tmp_path / "portal.db"
    shutil.copy(where, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    (home / "locks").mkdir()
    return Settings(home=home, database_url=database_url, secret_key=TEST_SECRET, run_jobs=False)


@pytest.fixture
def db(settings):
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture
def session(db):
    """A write session for service tests; committed by the test when it wants the data visible."""
    s = db.session(write=True)
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def content_repo(settings):
    from portal.content import ContentRepo

    repo = ContentRepo(settings)
    repo.ensure()
    return repo


@pytest.fixture
def make(db):
    """Factories bound to this test's database: make.org(), make.user(role, org=…)."""
    return factories.Factory(db)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, http: type | str = ZeroCopyH11Protocol):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The protocol `portal serve` runs (portal/serving.py): downloads over HTTP take its sendfile path.
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                http=http)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def app(settings, content_repo):
    from portal.app import create_app

    return create_app(settings)


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False) as c:
        yield c


@pytest.fixture
def api(client, make):
    """Log in over the real API: ``api.as_user(user)`` returns headers with a bearer token."""
    return factories.ApiHelper(client)


# --- Chromium through Playwright ---------------------------------------------------------------

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: scripts/test installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="ru-RU")
    p = context.new_page()
    p.set_default_timeout(15000)
    yield p
    context.close()
