"""The one Whoosh writer block (``generations.writing``) and the one build-and-swap (``IndexStore.building``,
``swap``) that the article index and the ticket index both write through, on real indexes on disk."""

from __future__ import annotations

import pytest
from whoosh import index as windex
from whoosh.fields import ID, Schema

from portal import migrate
from portal.accounts import service as accounts
from portal.db import Database
from portal.policy import SystemActor
from portal.search.index import IndexStore, WhooshIndex
from portal.search.index.generations import writing
from portal.search.similar.whoosh_tickets import WhooshTickets
from tests.search.index.test_whoosh_backend import slugs
from tests.similar.seeding import insert_rows, row


class Boom(Exception):
    pass


def test_a_block_that_raises_leaves_nothing_written_and_the_lock_free(tmp_path):
    store = IndexStore(tmp_path / "ix")
    with store.building() as gen:
        windex.create_in(str(gen), Schema(key=ID(stored=True, unique=True))).close()
    with writing(gen) as w:
        w.add_document(key="kept")
    with pytest.raises(Boom), writing(gen) as w:
        w.add_document(key="lost")
        raise Boom
    with writing(gen, timeout=0) as w:  # Whoosh's lock was given back: no wait, no LockError
        w.update_document(key="kept")
    ix = windex.open_dir(str(gen))
    try:
        with ix.searcher() as s:
            assert sorted(f["key"] for f in s.all_stored_fields()) == ["kept"]
    finally:
        ix.close()


def test_a_build_that_raises_leaves_no_generation_and_swap_keeps_one_before(tmp_path):
    store = IndexStore(tmp_path / "ix")
    with pytest.raises(Boom), store.building() as gen:
        (gen / "half").write_text("written before the failure")
        raise Boom
    assert not gen.exists() and store.current() is None
    built = []
    for _ in range(3):
        with store.building() as gen:
            store.swap(gen)
            built.append(gen)
    assert store.current() == built[-1]
    assert sorted(store.root.glob("gen-*")) == sorted(built[-2:])  # readers mid-switch keep the one before


def test_an_article_rebuild_cut_off_keeps_the_live_generation(settings, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]
    live = IndexStore(settings.index_path).current()

    def cut_off(done, total):
        if done > 3:
            raise Boom

    with pytest.raises(Boom):
        index.rebuild(force=True, progress=cut_off)
    assert list(settings.index_path.glob("gen-*")) == [live]
    assert slugs(index, "капча") == ["captcha"]


def test_a_ticket_rebuild_cut_off_keeps_the_live_generation(settings):
    db = Database(settings)
    migrate.upgrade(db)
    with db.session_scope() as s:
        org = accounts.create_organization(session=s, actor=SystemActor.operator("test"), slug="cut", name="Обрыв")
        insert_rows(s, [row(f"PRM-2025-{n:05d}", org.id, summary=f"Капча номер {n} блокирует сценарий",
                            description="Сценарий STM останавливается.") for n in range(1, 6)])
    index = WhooshTickets(settings)
    try:
        index.rebuild()
        live = index.store.current()

        def cut_off(done, total):
            raise Boom

        with pytest.raises(Boom):
            index.rebuild(progress=cut_off)
        assert list(index.store.root.glob("gen-*")) == [live]
        assert index.info()["tickets"] == 5
    finally:
        index.close()
        db.dispose()
