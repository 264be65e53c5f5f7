"""The tamper-evident delivery ledger: every delivery step is a chained event; an edited or deleted row breaks the
chain where it happened; two writers of one package at once keep one chain (threads, on PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from portal.policy import SystemActor
from portal.releases import deliveries, ledger, service
from tests.releases.conftest import create, load


@pytest.fixture
def published(db, settings, world):
    return create(db, settings, world.support, package_id="pkg-l", tickets=[world.t_romashka], orgs=["vector"],
                  publish=True)


def _walk(db, settings, world, package_id):
    """romashka downloads, acknowledges, is confirmed; vector gets it by e-mail."""
    with db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id=package_id)
        d = deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=d.id, note="Установили")
        deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=d.id)
    with db.session_scope() as s:
        deliveries.record_handover(session=s, actor=load(s, world.support), package_id=package_id,
                                   organization="vector", channel="email", note="Отправили письмом")


def _breaks(db):
    with db.session_scope(write=False) as s:
        return list(ledger.verify(s))


def test_every_step_is_a_chained_event(db, settings, world, published):
    _walk(db, settings, world, published)
    with db.session_scope(write=False) as s:
        events = ledger.events_of(s, package_id=published)
        assert [(e.seq, e.kind) for e in events] == [(1, "downloaded"), (2, "acknowledged"), (3, "confirmed"),
                                                    (4, "delivered")]
        assert events[0].prev_hash == "" and all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
        assert events[0].actor == "ivanova" and events[0].actor_name == "Анна Иванова"
        assert {e.organization_id for e in events[:3]} == {world.romashka.id}
        assert [e.kind for e in ledger.events_of(s, package_id=published, organization_id=world.vector.id)] == [
            "delivered"]
    assert _breaks(db) == []


def test_an_edited_row_is_named(db, settings, world, published):
    _walk(db, settings, world, published)
    with db.session_scope(write=False) as s:
        second = ledger.events_of(s, package_id=published)[1].id
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_events SET actor_name = 'Кто-то другой' WHERE id = :id"), {"id": second})
    found = _breaks(db)
    assert len(found) == 1 and found[0].package_id == published and found[0].event_id == second
    assert "строка изменена" in found[0].what


def test_an_edited_row_with_its_hash_recomputed_is_named_by_the_next(db, settings, world, published):
    _walk(db, settings, world, published)
    with db.session_scope() as s:
        events = ledger.events_of(s, package_id=published)
        events[1].details = ledger.canonical_details({"note": "Не устанавливали"})
        events[1].hash = ledger.event_hash(events[1])
        third = events[2].id
    found = _breaks(db)
    assert [(b.event_id, b.seq) for b in found] == [(third, 3)] and "предыдущее событие изменено" in found[0].what


@pytest.mark.parametrize("which", [1, 4])  # a middle event and the last one
def test_a_deleted_row_is_named(db, settings, world, published, which):
    _walk(db, settings, world, published)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_events WHERE package_id = :p AND seq = :seq"),
                     {"p": published, "seq": which})
    found = _breaks(db)
    assert len(found) == 1 and found[0].package_id == published
    if which == 1:
        assert found[0].seq == 2 and "нет seq 1–1" in found[0].what
    else:
        assert found[0].event_id is None and "голова записывает seq 4" in found[0].what


def test_a_rolled_back_step_leaves_no_event(db, settings, world, published):
    with pytest.raises(RuntimeError), db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id=published)
        deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        raise RuntimeError("the request failed after the step")
    with db.session_scope(write=False) as s:
        assert ledger.events_of(s, package_id=published) == []
    assert _breaks(db) == []


def test_concurrent_events_of_one_package_keep_one_chain(db, settings, world, published):
    """Many writers append to one package's chain at once: every event lands, one after another, no fork."""
    writers, per_writer = 6, 5
    actor = SystemActor.job("releases.overdue")
    start, failures = threading.Barrier(writers), []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with db.session_scope() as s:
                    ledger.append(s, package_id=published, organization_id=world.vector.id, kind="test.note",
                                  actor=actor, details={"writer": n, "i": i})
        except Exception as exc:  # noqa: BLE001 — reported below with the test's failure
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with db.session_scope(write=False) as s:
        events = ledger.events_of(s, package_id=published)
        assert [e.seq for e in events] == list(range(1, writers * per_writer + 1))
        assert sorted((e.details for e in events)) == sorted(
            ledger.canonical_details({"writer": n, "i": i}) for n in range(writers) for i in range(per_writer))
    assert _breaks(db) == []

