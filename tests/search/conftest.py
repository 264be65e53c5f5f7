"""Search fixtures: the fixture corpus committed into a real content repository, a real index on disk or in
PostgreSQL.

Index fixtures are parametrised over both backends. The PostgreSQL one runs on every test run: in the
PostgreSQL run on its server, in the SQLite run on the server at 127.0.0.1:5432 (a database per index,
created from a migrated template and dropped at the end of the session).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import migrate
from portal.config import Settings
from portal.content import ContentRepo
from portal.db import Database
from portal.search.index import PgIndex, WhooshIndex
from tests.conftest import TEST_SECRET
from tests.search import manpages
from tests.search.corpus import ARTICLES, article_text

PROJECT_SYNONYMS = Path(__file__).resolve().parents[2] / "kb" / "synonyms.txt"
CUSTOMER = ("public", "customers")
STAFF = ("public", "customers", "internal")


def publish_corpus(repo: ContentRepo, articles: list[dict] = ARTICLES) -> str:
    """Replace the starter articles with the fixture corpus in one commit; return it."""
    with repo.repo() as git_repo:
        existing = [p for p in git_repo.git.ls_files("kb").splitlines() if p.endswith(".md")]
    files: dict[str, str | None] = {p: None for p in existing}
    files.update({a["path"]: article_text(a) for a in articles})
    files["kb/synonyms.txt"] = PROJECT_SYNONYMS.read_text(encoding="utf-8")
    with repo.write_lock():
        return repo.commit_files(files=files, message="Статьи для тестов поиска")


def commit(repo: ContentRepo, files: dict[str, str | None], message: str = "Правка статей") -> str:
    with repo.write_lock():
        return repo.commit_files(files=files, message=message)


@pytest.fixture
def kb(content_repo) -> str:
    """The fixture corpus in this test's content repository; returns the commit."""
    return publish_corpus(content_repo)


@pytest.fixture(scope="module")
def corpus_settings(tmp_path_factory) -> Settings:
    """A data home shared by a module's read-only tests (the relevance suite): one corpus, one index."""
    home = tmp_path_factory.mktemp("search-home")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'unused.db'}", secret_key=TEST_SECRET,
                        run_jobs=False)
    repo = ContentRepo(settings)
    repo.ensure()
    publish_corpus(repo)
    return settings


BACKENDS = ("whoosh", "postgresql")
SEARCH_PG_SERVER = os.environ.get("PORTAL_TEST_POSTGRES") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class SearchDatabases:
    """PostgreSQL databases for search indexes: copies of one migrated template, all dropped at the end."""

    def __init__(self, tmp_path_factory):
        self.server = make_url(SEARCH_PG_SERVER)
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.template = f"portal_search_tpl_{uuid.uuid4().hex[:8]}"
        self.names = [self.template]
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        db = Database(Settings(home=tmp_path_factory.mktemp("search-pg-template"), database_url=self.url(self.template)))
        migrate.upgrade(db)
        db.dispose()

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        name = f"portal_search_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.names.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.names):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def search_databases(tmp_path_factory):
    databases = SearchDatabases(tmp_path_factory)
    yield databases
    databases.drop_all()


def index_of(backend: str, settings: Settings, databases: SearchDatabases) -> WhooshIndex | PgIndex:
    """A fresh index of ``backend`` over this data home's content repository (PostgreSQL: its own database)."""
    if backend == "whoosh":
        return WhooshIndex(settings)
    pg = settings.model_copy(update={"database_url": databases.create(), "search_backend": "postgresql"})
    return PgIndex(pg)


@pytest.fixture(scope="module", params=BACKENDS)
def corpus_index(request, corpus_settings, search_databases) -> WhooshIndex | PgIndex:
    index = index_of(request.param, corpus_settings, search_databases)
    index.rebuild()
    yield index
    index.close()


@pytest.fixture(scope="session")
def man_articles() -> list[dict]:
    """Debian's Russian man pages as articles (tests/search/manpages.py), once per test session (groff over
    ~400 pages takes a while).

    No skip when the packages are missing: scripts/test installs them, as it installs Chromium and dovecot,
    and a relevance floor that quietly stops being checked guards nothing."""
    missing = manpages.available()
    if missing is not None:
        pytest.fail(missing)
    return manpages.load()


@pytest.fixture(scope="session")
def man_indexes(tmp_path_factory, man_articles, search_databases) -> dict[str, WhooshIndex | PgIndex]:
    """The man pages in one content repository, indexed once per session by each backend."""
    home = tmp_path_factory.mktemp("man-home")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'unused.db'}", secret_key=TEST_SECRET,
                        run_jobs=False)
    repo = ContentRepo(settings)
    repo.ensure()
    publish_corpus(repo, man_articles)
    indexes = {}
    for backend in BACKENDS:
        indexes[backend] = index_of(backend, settings, search_databases)
        indexes[backend].rebuild()
    return indexes
