"""After an upgrade that changes the index's schema, searches answer from the previous generation while the new one
is rebuilt in the background — on both backends, checked by the order of events (the rebuild is held back by its
own lock, taken here as another node's rebuild would hold it)."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import text
from whoosh import index as windex
from whoosh.fields import ID, Schema

from portal import locks
from portal.search.index import IndexStore, PgIndex, SearchRequest, WhooshIndex
from portal.search.index.background import REBUILD_LOCK
from portal.search.index.schema import SCHEMA_VERSION
from tests.search.conftest import BACKENDS, STAFF, commit, index_of
from tests.search.index.test_whoosh_backend import new_article


def slugs(index, text_):
    return [h.slug for h in index.search(SearchRequest(text=text_, audiences=STAFF, limit=50)).hits]


def rebuild_held(index: WhooshIndex | PgIndex) -> contextlib.AbstractContextManager[None]:
    """The rebuild lock of this index, held as another process's rebuild holds it."""
    if isinstance(index, PgIndex):
        return locks.advisory(index.settings.effective_database_url, REBUILD_LOCK, timeout=0, what="test")
    return locks.held(index.settings.locks_path, REBUILD_LOCK, timeout=0, what="test")


def live_schema(index: WhooshIndex | PgIndex) -> tuple[object, int]:
    """(the live generation, its schema version)."""
    if isinstance(index, PgIndex):
        generation = index.live()
        assert generation is not None
        return generation.id, generation.schema_version
    gen = IndexStore(index.settings.index_path).current()
    assert gen is not None
    return gen.name, (IndexStore.meta(gen) or {})["schema"]


def make_previous_schema(index: WhooshIndex | PgIndex) -> None:
    """Mark the live generation as written by the code before this schema (as the upgraded code finds it)."""
    if isinstance(index, PgIndex):
        with index.engine.begin() as conn:
            conn.execute(text("UPDATE search_generations SET schema_version = :s WHERE state = 'live'"),
                         {"s": SCHEMA_VERSION - 1})
    else:
        gen = IndexStore(index.settings.index_path).current()
        assert gen is not None
        IndexStore.write_meta(gen, schema=SCHEMA_VERSION - 1)


def same_index_elsewhere(index: WhooshIndex | PgIndex) -> WhooshIndex | PgIndex:
    """The same index as a freshly started process of the upgraded code opens it."""
    return PgIndex(index.settings) if isinstance(index, PgIndex) else WhooshIndex(index.settings)


@pytest.fixture(params=BACKENDS)
def built(request, settings, kb, search_databases):
    index = index_of(request.param, settings, search_databases)
    assert slugs(index, "капча") == ["captcha"]  # the first search of an index that is missing builds it
    yield index
    index.close()


def test_the_first_search_after_a_schema_change_answers_from_the_previous_generation(built, content_repo):
    old = live_schema(built)
    make_previous_schema(built)
    upgraded = same_index_elsewhere(built)
    events = []
    try:
        with rebuild_held(built):
            # In a thread, so that a search waiting for the rebuild shows as events out of order, not as a hang.
            searching = threading.Thread(target=lambda: events.append(("search", slugs(upgraded, "капча"))))
            searching.start()
            searching.join(120)
            events.append(("live", live_schema(upgraded)))
            # A publish meanwhile does not rebuild in its request either: the running rebuild ends with a catch-up.
            commit(content_repo, new_article())
            events.append(("publish caught up to", upgraded.catch_up(wait=True)))
            events.append(("rebuild lock released", None))
        searching.join()
        upgraded.settle()
        new = live_schema(upgraded)
        events.append(("rebuilt", new[1]))
        assert events == [("search", ["captcha"]), ("live", (old[0], SCHEMA_VERSION - 1)),
                          ("publish caught up to", None), ("rebuild lock released", None),
                          ("rebuilt", SCHEMA_VERSION)]
        assert new[0] != old[0]
        assert slugs(upgraded, "капча") == ["captcha"]
        assert slugs(upgraded, "закрытие вкладки")[:1] == ["beacon-loss"]  # the publish made during the rebuild
    finally:
        upgraded.close()


def test_an_old_generation_that_cannot_answer_says_the_index_is_being_rebuilt(settings, kb):
    index = WhooshIndex(settings)
    store = IndexStore(settings.index_path)
    gen = store.new_generation()
    ix = windex.create_in(str(gen), Schema(path=ID(stored=True, unique=True)))  # a schema lacking what searches read
    writer = ix.writer()
    writer.add_document(path="kb/stm/captcha.md")
    writer.commit()
    ix.close()
    IndexStore.write_meta(gen, commit=kb, schema=SCHEMA_VERSION - 1, mode=index.mode)
    store.publish(gen)
    events = []
    try:
        with rebuild_held(index):
            page = index.search(SearchRequest(text="капча", audiences=STAFF))
            events.append(("search", page.total, page.rebuilding))
            events.append(("suggest", index.suggest("кап", STAFF, 5)))
        index.settle()
        page = index.search(SearchRequest(text="капча", audiences=STAFF))
        events.append(("search", page.total, page.rebuilding))
        assert events == [("search", 0, (0, 0)), ("suggest", []), ("search", 1, None)]
        assert [h.slug for h in page.hits] == ["captcha"]
    finally:
        index.close()


def test_a_rebuild_reports_its_progress_to_the_searches_it_keeps_waiting(settings, kb):
    index = WhooshIndex(settings)
    seen = []

    def progress(done, total):
        seen.append(index.rebuilding)

    index.rebuild(progress=progress)
    assert seen and seen[-1] == (index.info()["files"], index.info()["files"]) and seen[0][0] == 1
    assert index.rebuilding is None  # over
