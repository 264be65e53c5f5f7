"""Search fixtures: the fixture corpus committed into a real content repository, a real index on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.config import Settings
from portal.content import ContentRepo
from portal.search.index import WhooshIndex
from tests.conftest import TEST_SECRET
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


@pytest.fixture(scope="module")
def corpus_index(corpus_settings) -> WhooshIndex:
    index = WhooshIndex(corpus_settings)
    index.rebuild()
    return index
