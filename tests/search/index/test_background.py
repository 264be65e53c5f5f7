"""One coalescing runner for the background work of both indexes (articles: catch-up and rebuild; tickets: catch-up),
on real indexes, real locks and real threads: at most one run and one pending per index, a burst of requests
folded into the pending run, and what changed while the first run was held read by the second."""

from __future__ import annotations

import threading

from portal import locks, migrate
from portal.accounts import service as accounts
from portal.db import Database, utcnow
from portal.policy import SystemActor
from portal.search.index import IndexStore, WhooshIndex
from portal.search.index.background import REBUILD_LOCK, Coalescing
from portal.search.similar import index as ticket_index
from portal.search.similar.documents import TicketText
from portal.search.similar.whoosh_tickets import WhooshTickets
from tests.search.conftest import commit
from tests.search.index.test_whoosh_backend import new_article, slugs
from tests.similar.seeding import insert_rows, row


def _burst(request, n=24, threads=6):
    """``n`` requests from ``threads`` threads at once (as page views and ticket events of one process ask)."""
    start = threading.Barrier(threads)

    def ask():
        start.wait()
        for _ in range(n // threads):
            request()

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_the_ticket_index_folds_a_burst_of_catch_ups_into_one_pending(settings):
    db = Database(settings)
    migrate.upgrade(db)
    with db.session_scope() as s:
        org = accounts.create_organization(session=s, actor=SystemActor.operator("test"), slug="burst", name="Вихрь")
        insert_rows(s, [row("PRM-2025-00001", org.id, summary="Агент не отправляет маяки после обновления",
                            description="Маяки теряются.")])
        org_id = org.id
    index = WhooshTickets(settings)
    try:
        index.rebuild()
        runner = index.runner
        assert isinstance(runner, Coalescing)
        # A catch-up of another process holds the index: this process's first catch-up waits for the lock.
        with locks.shared(settings, ticket_index.WRITE_LOCK, timeout=5, what="test"):
            index.catch_up_later()
            _burst(index.catch_up_later)
            assert runner.busy and runner.runs == 0 and runner.requests == 25
            with db.session_scope() as s:  # written while the first run waits, after it was asked for
                insert_rows(s, [row("PRM-2025-00002", org_id, summary="Капча блокирует синтетический сценарий",
                                    description="Сценарий STM останавливается на капче.", at=utcnow())])
        index.settle(30)
        assert not runner.busy
        assert runner.runs == 2  # the one held, and ONE for the 24 requests that came meanwhile
        found = index.similar(TicketText(summary="Капча останавливает сценарий STM"), scope="solved")
        assert [m.ticket_id for m in found][:1] == ["PRM-2025-00002"]
    finally:
        index.close()
        db.dispose()


def test_the_article_index_runs_one_rebuild_at_a_time_and_one_more_for_a_burst(settings, content_repo, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]  # built
    running = []
    overlap = []

    def rebuild():
        running.append(1)
        if len(running) > 1:
            overlap.append(len(running))
        try:
            index.rebuild(force=True)
        finally:
            running.pop()

    # Another process rebuilds: this process's rebuild waits for the lock, the burst piles up behind it.
    with locks.held(settings.locks_path, REBUILD_LOCK, timeout=5, what="test"):
        index._in_background("rebuild", rebuild)
        _burst(lambda: index._in_background("rebuild", rebuild))
        runner = index.runner("rebuild")
        assert runner is not None and runner.busy and runner.runs == 0
        sha = commit(content_repo, new_article())  # after both runs were asked for
    index.settle(60)
    assert runner.runs == 2 and overlap == []
    assert index.info()["commit"] == sha
    assert slugs(index, "закрытие вкладки")[:1] == ["beacon-loss"]


def test_a_forced_rebuild_asked_again_while_one_runs_does_not_rebuild_twice(settings, content_repo, kb):
    """A search sees the same unusable index every second while the rebuild runs: the pending run finds the index
    at HEAD and leaves it (the generation built by the first run stays live, no second one is written)."""
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]
    sha = commit(content_repo, new_article())
    (settings.index_path / "CURRENT").unlink()  # no live index: the catch-up turns into a full rebuild
    with locks.held(settings.locks_path, REBUILD_LOCK, timeout=5, what="test"):
        index._rebuild_in_background()
        _burst(index._rebuild_in_background, n=12, threads=3)
    index.settle(60)
    assert index.runner("rebuild").runs == 2
    assert index.info()["commit"] == sha
    generations = list(settings.index_path.glob("gen-*"))
    assert generations == [IndexStore(settings.index_path).current()]  # one build, not two


def test_settle_waits_for_the_pending_run_too(settings, content_repo, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]
    gate, started = threading.Event(), threading.Event()
    order = []
    index._in_background("catch-up", lambda: (started.set(), gate.wait(10), order.append("first")))
    assert started.wait(10)
    index._in_background("catch-up", lambda: order.append("ignored: replaced by the last request"))
    index._in_background("catch-up", lambda: order.append("pending"))
    threading.Timer(0.3, gate.set).start()
    index.settle(20)
    assert order == ["first", "pending"]
