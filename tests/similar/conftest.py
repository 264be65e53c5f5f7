"""Fixtures of the ticket index tests: the labelled set seeded into a real database, indexed by each backend.

The relevance suite indexes the labelled set with both backends on every run (the PostgreSQL one in a database
of its own on the test server, as the article search's suite does). Tests over HTTP run on the run's database
with the Whoosh backend, and in the PostgreSQL run with the PostgreSQL backend too.
"""

from __future__ import annotations

import contextlib
import itertools
import os

import pytest

from portal import migrate
from portal.accounts import service as accounts
from portal.config import Settings
from portal.db import Database
from portal.policy import SystemActor
from portal.search.similar.pg_tickets import PgTickets
from portal.search.similar.whoosh_tickets import WhooshTickets
from tests.conftest import TEST_SECRET
from tests.search.conftest import SearchDatabases
from tests.similar.pairs import PAIRS
from tests.similar.seeding import insert_rows, row

HTTP_BACKENDS = ("whoosh", "postgresql") if os.environ.get("PORTAL_TEST_POSTGRES") else ("whoosh",)


@pytest.fixture(params=HTTP_BACKENDS)
def settings(request, settings):
    """The run's database with each search backend it can hold."""
    return settings.model_copy(update={"search_backend": request.param})


@pytest.fixture(scope="session")
def similar_databases(tmp_path_factory):
    databases = SearchDatabases(tmp_path_factory)
    yield databases
    databases.drop_all()


def solved_id(n: int) -> str:
    return f"PRM-2025-{n:05d}"


def seed_labelled(db: Database) -> int:
    """The labelled set's solved tickets in one organisation, a few open ones beside them; the organisation's id."""
    with db.session_scope() as s:
        org = accounts.create_organization(session=s, actor=SystemActor.operator("test"), slug="labelled",
                                           name="ООО Размеченная")
        rows = []
        for n, (module, (summary, description, cause, solution, workaround), _new) in enumerate(PAIRS, 1):
            rows.append(row(solved_id(n), org.id, summary=summary, description=description, module=module,
                            status="closed" if n % 3 else "resolved", cause=cause, solution=solution,
                            workaround=workaround))
        # Open tickets saying the same as some solved ones: never offered as a solution.
        counter = itertools.count(1)
        for module, (summary, description, *_), _new in PAIRS[::6]:
            rows.append(row(f"PRM-2026-{next(counter):05d}", org.id, summary=summary, description=description,
                            module=module, status="in_analysis"))
        insert_rows(s, rows)
        return org.id


@contextlib.contextmanager
def labelled(backend: str, tmp_path_factory, databases: SearchDatabases):
    """The labelled set indexed by ``backend`` (a data home and database of its own)."""
    home = tmp_path_factory.mktemp(f"similar-{backend}")
    url = databases.create() if backend == "postgresql" else f"sqlite:///{home / 'portal.db'}"
    settings = Settings(home=home, database_url=url, secret_key=TEST_SECRET, run_jobs=False, search_backend=backend)
    db = Database(settings)
    migrate.upgrade(db)
    seed_labelled(db)
    index = PgTickets(settings) if backend == "postgresql" else WhooshTickets(settings)
    index.rebuild()
    try:
        yield index
    finally:
        index.close()
        db.dispose()


@pytest.fixture(scope="module", params=("whoosh", "postgresql"))
def labelled_index(request, tmp_path_factory, similar_databases):
    """The labelled set indexed by one backend."""
    with labelled(request.param, tmp_path_factory, similar_databases) as index:
        yield index


@pytest.fixture
def bearer(live_server):
    """The API with bearer tokens, on a client of its own (the page client's session cookie would ask for CSRF)."""
    import httpx

    from tests.factories import ApiHelper

    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield ApiHelper(client)
