"""The PostgreSQL search backend: the relevance of the Whoosh index on the same text, visibility inside the query,
and the index's life in a shared database — generations, catch-up, two processes, the advisory lock, the setting.

Each index gets a database of its own on the PostgreSQL server of the tests (tests/search/conftest.py), on the
SQLite run too.
"""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from portal import locks
from portal.config import Settings
from portal.errors import Conflict
from portal.knowledge import hooks
from portal.search import service
from portal.search.index import PgIndex, SearchRequest, WhooshIndex, backend, pg_backend
from tests.search import manpages
from tests.search.conftest import BACKENDS, CUSTOMER, STAFF, commit, index_of
from tests.search.corpus import RELEVANCE
from tests.search.index.test_whoosh_backend import new_article


def slugs(index, text_, audiences=STAFF, **kw):
    return [h.slug for h in index.search(SearchRequest(text=text_, audiences=audiences, limit=50, **kw)).hits]


def pg_settings(settings: Settings, search_databases) -> Settings:
    return settings.model_copy(update={"database_url": search_databases.create(), "search_backend": "postgresql"})


@pytest.fixture
def pg(settings, kb, search_databases):
    """A PostgreSQL index of the fixture corpus in a database of its own (built by its first search)."""
    index = PgIndex(pg_settings(settings, search_databases))
    yield index
    index.close()


# --- relevance: the same as Whoosh's ------------------------------------------------------------------


def test_man_pages_relevance_is_within_one_query_of_whoosh(man_indexes):
    results = {}
    for name, index in man_indexes.items():
        results[name] = manpages.evaluate(
            lambda q, index=index: [h.slug for h in index.search(SearchRequest(text=q, audiences=("public",),
                                                                               limit=10)).hits])
        print(f"\n{name}: top-1 {results[name]['top1']}, top-3 {results[name]['top3']} of {results[name]['n']}, "
              f"MRR {results[name]['mrr']:.3f}")
    whoosh, postgresql = results["whoosh"], results["postgresql"]
    assert abs(postgresql["top3"] - whoosh["top3"]) <= 1, (whoosh["misses"], postgresql["misses"])
    assert abs(postgresql["top1"] - whoosh["top1"]) <= 1


def test_fixture_suite_relevance_is_within_one_query_of_whoosh(corpus_settings, search_databases):
    whoosh = WhooshIndex(corpus_settings)
    postgresql = PgIndex(pg_settings(corpus_settings, search_databases))
    try:
        found = {}
        for name, index in (("whoosh", whoosh), ("postgresql", postgresql)):
            found[name] = sum(expected in [h.slug for h in index.search(
                SearchRequest(text=q, audiences=CUSTOMER, limit=3)).hits] for q, expected, _first in RELEVANCE)
        assert abs(found["whoosh"] - found["postgresql"]) <= 1, found
        assert found["postgresql"] >= len(RELEVANCE) - 1
    finally:
        postgresql.close()
        whoosh.close()


def test_scores_are_whooshs_bm25f(corpus_settings, search_databases):
    """Not only the order: the scores themselves agree. Whoosh stores field lengths rounded to a byte, so close
    scores may swap places; the first three and every score within 5 % do not move."""
    whoosh = WhooshIndex(corpus_settings)
    postgresql = PgIndex(pg_settings(corpus_settings, search_databases))
    try:
        for q in ("агент не запускается", "HTTP 502", "сертификат", '"пакет обновлений"'):
            w = {h.slug: h.score for h in whoosh.search(SearchRequest(text=q, audiences=STAFF, limit=10)).hits}
            p = {h.slug: h.score for h in postgresql.search(SearchRequest(text=q, audiences=STAFF, limit=10)).hits}
            assert list(w)[:3] == list(p)[:3] and set(w) == set(p), (q, w, p)
            assert all(abs(w[s] - p[s]) <= 0.05 * w[s] for s in w), (q, w, p)
    finally:
        postgresql.close()
        whoosh.close()


# --- visibility, filters, snippets ---------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def either(request, settings, kb, search_databases):
    """A fresh index of the fixture corpus in each backend (built by its first search)."""
    index = index_of(request.param, settings, search_databases)
    yield index
    index.close()


def test_visibility_is_part_of_the_query(either):
    index = either
    assert slugs(index, "квазиконсоль", STAFF) == ["debug-collector"]
    page = index.search(SearchRequest(text="квазиконсоль", audiences=CUSTOMER))
    assert page.total == 0 and page.hits == [] and page.suggestion is None
    page = index.search(SearchRequest(text="агент", audiences=CUSTOMER))
    assert "debug-collector" not in [h.slug for h in page.hits]
    for name, counts in page.facets.items():
        assert all(c["value"] not in ("internal-tools", "9.9.9", "внутреннее") for c in counts), name
    assert page.total == sum(c["count"] for c in page.facets["kind"])
    staff = index.search(SearchRequest(text="агент", audiences=STAFF))
    assert staff.total == page.total + 1
    assert index.similar("debug-collector", CUSTOMER, 5) == []
    assert all(h.slug != "debug-collector" for h in index.similar("no-data-dashboard", CUSTOMER, 10))
    assert index.similar("no-data-dashboard", CUSTOMER, 10)
    assert index.suggest("квазикон", CUSTOMER, 8) == []
    assert [h.slug for h in index.suggest("квазикон", STAFF, 8)] == ["debug-collector"]
    for code in ("PRM-2026-00777", "0x8badf00d"):
        assert slugs(index, code, CUSTOMER) == [] and slugs(index, code, STAFF) == ["debug-collector"]
    # the customers' spelling dictionary never learnt the internal word; the staff's did
    page = index.search(SearchRequest(text="квазиконсаль", audiences=CUSTOMER))
    assert page.suggestion is None and page.total == 0
    assert index.search(SearchRequest(text="квазиконсаль", audiences=STAFF)).suggestion == "квазиконсоль"


def test_filters_facets_sort_pages_and_snippets(pg):
    page = pg.search(SearchRequest(text="проверка", audiences=CUSTOMER, module="stm"))
    assert page.total and all(h.module == "stm" for h in page.hits)
    browse = pg.search(SearchRequest(text="", audiences=CUSTOMER, tag="windows"))
    assert browse.total == 2
    dated = pg.search(SearchRequest(text="агент", audiences=CUSTOMER, sort="date", limit=50)).hits
    assert [h.updated for h in dated] == sorted((h.updated for h in dated), reverse=True)
    first = pg.search(SearchRequest(text="агент", audiences=CUSTOMER, limit=2))
    second = pg.search(SearchRequest(text="агент", audiences=CUSTOMER, limit=2, offset=2))
    assert first.total == second.total and not {h.slug for h in first.hits} & {h.slug for h in second.hits}
    versioned = pg.search(SearchRequest(text="агент", audiences=CUSTOMER, version="5.2.1", limit=50))
    assert all("5.2.1" in h.product_versions or not h.product_versions for h in versioned.hits)
    hit = next(h for h in pg.search(SearchRequest(text="запуск", audiences=CUSTOMER)).hits
               if h.slug == "agent-not-starting")
    assert "<mark>запускается</mark>" in hit.snippet
    snippet = next(h for h in pg.search(SearchRequest(text="сниппет head", audiences=CUSTOMER)).hits
                   if h.slug == "snippet-install").snippet
    assert "&lt;<mark>head</mark>&gt;" in snippet and "<script" not in snippet
    assert slugs(pg, "5.2.1", CUSTOMER)[0] == "upgrade-5-2-1"


@pytest.mark.parametrize("text_", ['"незакрытая кавычка', "AND", "OR -", "\x00\x01", "кап*чa~ title:x ((", "'; DROP",
                                   "\\", "a' | b", "ё", "x" * 300])
def test_malformed_queries_never_fail(pg, text_):
    page = pg.search(SearchRequest(text=text_, audiences=CUSTOMER))
    assert page.total >= 0
    pg.suggest(text_, CUSTOMER, 8)


# --- the life cycle in the shared database -------------------------------------------------------------


def test_the_index_builds_itself_and_follows_publishing_through_the_hook(settings, content_repo, kb, search_databases):
    chosen = pg_settings(settings, search_databases)
    index = backend(chosen)
    assert isinstance(index, PgIndex)
    assert index.info() == {}
    assert slugs(index, "капча") == ["captcha"]
    assert index.info()["commit"] == kb and index.info()["articles"] == 29
    assert slugs(index, "черновикслово") == [] and slugs(index, "архивноеслово") == []
    sha = commit(content_repo, new_article())
    hooks.articles_changed(settings=chosen, commit=sha, slugs=["beacon-loss"])
    assert index.info()["commit"] == sha
    assert slugs(index, "закрытие вкладки")[:1] == ["beacon-loss"]  # first: another holds one of the words
    assert index.info()["articles"] == 30
    sha = commit(content_repo, new_article(status="archived"))
    hooks.articles_changed(settings=chosen, commit=sha, slugs=["beacon-loss"])
    assert "beacon-loss" not in slugs(index, "закрытие вкладки")
    sha = commit(content_repo, {"kb/stm/captcha.md": None})
    hooks.articles_changed(settings=chosen, commit=sha, slugs=["captcha"])
    assert slugs(index, "капча") == []
    assert index.info()["articles"] == 28
    # the term counts followed: a word only the deleted article had is in no count or dictionary any more
    with index.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM search_terms WHERE term IN ('капча', 'капч')")).scalar()
    assert left == 0
    index.close()


def test_incremental_counts_equal_a_rebuild(settings, content_repo, kb, search_databases):
    index = PgIndex(pg_settings(settings, search_databases))
    index.rebuild()
    sha = commit(content_repo, {"kb/stm/captcha.md": None, **new_article(), **new_article(
        path="kb/rum/agent-not-starting.md", title="Агент не стартует", body="Совсем другой текст.")})
    index.catch_up(wait=True)

    def counts():
        with index.engine.connect() as conn:
            live = conn.execute(text("SELECT id, articles, lengths FROM search_generations WHERE state = 'live'")).one()
            terms = set(conn.execute(text("SELECT field, term, count FROM search_terms WHERE generation = :g"),
                                     {"g": live[0]}).all())
        return live[1], live[2], terms

    incremental = counts()
    index.rebuild()
    assert index.info()["commit"] == sha
    assert counts() == incremental
    index.close()


def test_rebuild_swaps_generations_and_keeps_one_before(pg):
    first = pg.rebuild()
    second = pg.rebuild()
    third = pg.rebuild()
    assert first["generation"] < second["generation"] < third["generation"]
    with pg.engine.connect() as conn:
        states = dict(conn.execute(text("SELECT id, state FROM search_generations")).all())
        kept = {g for (g,) in conn.execute(text("SELECT DISTINCT generation FROM search_documents"))}
    assert states == {second["generation"]: "retired", third["generation"]: "live"}
    assert kept == set(states)


def test_each_kept_generation_has_gin_indexes_of_its_own_dropped_with_it(pg):
    first = pg.rebuild()["generation"]
    second = pg.rebuild()["generation"]
    orphan = f"{pg_backend._GIN_INDEXES[0]}_g{second + 1000}"  # left by a process killed after dropping its rows
    with pg.engine.begin() as conn:
        conn.execute(text(f"CREATE INDEX {orphan} ON search_documents (id) WHERE generation = {second + 1000}"))
    third = pg.rebuild()["generation"]
    with pg.engine.connect() as conn:
        definitions = dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                             "WHERE tablename = 'search_documents'")).all())
    for name in pg_backend._GIN_INDEXES:
        column = pg_backend._GIN_COLUMNS[name]
        for kept in (second, third):
            assert definitions[f"{name}_g{kept}"].endswith(f"USING gin ({column}) WHERE (generation = {kept})")
        assert f"{name}_g{first}" not in definitions
    assert orphan not in definitions
    assert slugs(pg, "капча") == ["captcha"]


def test_a_failed_rebuild_leaves_the_live_generation_and_no_rows(pg, monkeypatch):
    assert slugs(pg, "капча") == ["captcha"]
    live = pg.info()["generation"]

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr(pg, "_write_counts", broken)
    with pytest.raises(RuntimeError):
        pg.rebuild()
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_generations")).scalar() == 1
        assert conn.execute(text("SELECT count(DISTINCT generation) FROM search_documents")).scalar() == 1
    assert pg.info()["generation"] == live and slugs(pg, "капча") == ["captcha"]


def test_searches_keep_answering_during_rebuilds_and_updates(settings, content_repo, kb, search_databases):
    chosen = pg_settings(settings, search_databases)
    index = PgIndex(chosen)
    assert slugs(index, "капча") == ["captcha"]
    errors, answers = [], []
    stop = threading.Event()

    def reader():
        other = PgIndex(chosen)  # another process reading the same tables
        while not stop.is_set():
            try:
                answers.append([h.slug for h in other.search(SearchRequest(text="капча", audiences=CUSTOMER)).hits])
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)
        other.close()

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(3):
            sha = commit(content_repo, new_article(path=f"kb/rum/new-{n}.md", title=f"Новая статья {n}"))
            index.catch_up(wait=True)
            assert index.info()["commit"] == sha
            index.rebuild()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == []
    assert answers and all(a == ["captcha"] for a in answers)
    assert sorted(slugs(index, "новая статья")[:3]) == ["new-0", "new-1", "new-2"]
    index.close()


def test_another_process_sees_an_update_at_once(settings, content_repo, kb, search_databases):
    """Every node reads the same index: a catch-up on one is what the next search on another finds."""
    chosen = pg_settings(settings, search_databases)
    first, second = PgIndex(chosen), PgIndex(chosen)
    assert slugs(first, "вкладки") == [] and slugs(second, "вкладки") == []
    commit(content_repo, new_article())
    first.catch_up(wait=True)
    second._head_checked = time.monotonic() + 3600  # it does not look at git: only the database tells it
    assert slugs(second, "вкладки") == ["beacon-loss"]
    first.close()
    second.close()


def test_a_search_notices_head_moved_and_catches_up_in_the_background(pg, content_repo):
    assert slugs(pg, "вкладки") == []
    sha = commit(content_repo, new_article())  # e.g. `git pull` of the shared remote
    pg._head_checked = 0.0
    assert slugs(pg, "вкладки") == []  # answered at once from the version it has
    pg.settle()
    assert pg.info()["commit"] == sha and slugs(pg, "вкладки") == ["beacon-loss"]


def test_a_node_behind_the_index_does_not_rebuild_it_backwards(pg, content_repo):
    assert slugs(pg, "капча") == ["captcha"]
    with pg.engine.begin() as conn:  # another node, ahead of this one's git, caught the index up
        conn.execute(text("UPDATE search_generations SET commit = :c WHERE state = 'live'"), {"c": "f" * 40})
    generation = pg.info()["generation"]
    assert pg.catch_up(wait=True) is None
    assert pg.info()["generation"] == generation and pg.info()["commit"] == "f" * 40


def test_writers_of_all_nodes_take_turns_through_the_advisory_lock(pg, content_repo, monkeypatch):
    assert slugs(pg, "вкладки") == []
    commit(content_repo, new_article())
    held, release = threading.Event(), threading.Event()

    def other_node():
        with locks.advisory(pg.settings.effective_database_url, pg_backend.WRITE_LOCK, timeout=5, what="test"):
            held.set()
            release.wait(10)
            time.sleep(0.5)

    thread = threading.Thread(target=other_node)
    thread.start()
    held.wait(10)
    try:
        assert pg.catch_up(wait=False) is None  # a search's lazy catch-up does not wait
        monkeypatch.setattr(pg_backend, "WRITE_LOCK_TIMEOUT", 0.2)
        with pytest.raises(Conflict, match="поискового индекса"):
            pg.catch_up(wait=True)
        monkeypatch.setattr(pg_backend, "WRITE_LOCK_TIMEOUT", 30.0)
        release.set()
        head = pg.catch_up(wait=True)  # the hook waits for the other writer
    finally:
        release.set()
        thread.join(10)
    assert pg.info()["commit"] == head and slugs(pg, "вкладки") == ["beacon-loss"]


def test_the_service_searches_through_the_chosen_backend(settings, kb, search_databases, make):
    chosen = pg_settings(settings, search_databases)
    customer = make.user("customer", org=make.org())
    results = service.search(session=None, settings=chosen, user=customer, q="капча")
    assert [h.slug for h in results.page.hits] == ["captcha"]
    assert service.status(settings=chosen)["backend"] == "postgresql"
    assert [s["slug"] for s in service.suggest(settings=chosen, user=customer, q="капч")] == ["captcha"]


def test_the_setting_requires_a_postgresql_database(tmp_path):
    with pytest.raises(ValidationError, match="PORTAL_DATABASE_URL must be a PostgreSQL URL"):
        Settings(home=tmp_path, search_backend="postgresql")
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, search_backend="elasticsearch")
    assert Settings(home=tmp_path).search_backend == "whoosh"
