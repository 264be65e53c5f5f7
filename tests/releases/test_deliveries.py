"""Every delivery transition, overdue marking by the scheduler, the tickets' close guard and page section."""

from __future__ import annotations

import datetime as dt

import pytest

from portal import audit
from portal.errors import Conflict, Invalid, NotFound
from portal.jobs import REGISTRY, Scheduler
from portal.releases import deliveries, service
from portal.releases.models import Delivery
from portal.tickets import service as tickets
from tests.releases.conftest import create, load


def _delivery(s, pid, org) -> Delivery:
    return s.query(Delivery).filter_by(package_id=pid, organization_id=org.id).one()


@pytest.fixture
def published(db, settings, world):
    return create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], orgs=["vector"],
                  publish=True)


def test_pending_downloaded_acknowledged_confirmed(db, world, published):
    with db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id=published)
        d = deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        assert d.status == "downloaded" and d.downloaded_by == "ivanova" and d.downloaded_at
        again = deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        assert again.downloaded_at == d.downloaded_at  # the first complete download counts
        assert deliveries.mark_downloaded(session=s, package=package, user=load(s, world.support)) is None
        d = deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=d.id, note="Установили")
        assert d.status == "acknowledged" and d.acknowledge_note == "Установили"
        with pytest.raises(Conflict):
            deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=d.id)
        d = deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=d.id)
        assert d.status == "confirmed" and d.on_behalf is False and d.confirmed_by == "support"
        with pytest.raises(Conflict):
            deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=d.id, note="ещё раз")
        actions = [e.action for e in audit.query(s, object_type="delivery", object_id=str(d.id))]
        assert actions == ["delivery.confirmed", "delivery.acknowledged", "delivery.downloaded"]


def test_pending_delivered_by_another_channel_then_confirmed_on_behalf(db, world, published):
    with db.session_scope() as s:
        support = load(s, world.support)
        d = deliveries.record_handover(session=s, actor=support, package_id=published, organization="vector",
                                       channel="remote", note="Установлено по удалённому доступу")
        assert d.status == "delivered" and d.channel == "remote" and d.delivered_by == "support"
        with pytest.raises(Conflict):  # a second hand-over of a delivered package is not a step forward
            deliveries.record_handover(session=s, actor=support, package_id=published, organization="vector",
                                       channel="email")
        with pytest.raises(Invalid):  # without the customer's acknowledgement a note is required
            deliveries.confirm(session=s, actor=support, delivery_id=d.id)
        d = deliveries.confirm(session=s, actor=support, delivery_id=d.id, note="Подтвердили по телефону")
        assert d.status == "confirmed" and d.on_behalf is True


def test_downloaded_then_delivered_and_pending_acknowledged(db, world, published):
    with db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id=published)
        d = deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        d = deliveries.record_handover(session=s, actor=load(s, world.support), package_id=published,
                                       organization="romashka", channel="media", note="Флешка курьером")
        assert d.status == "delivered" and d.downloaded_at is not None
        v = _delivery(s, published, world.vector)
        v = deliveries.acknowledge(session=s, actor=load(s, world.petrov), delivery_id=v.id)
        assert v.status == "acknowledged"


def test_who_may_do_what(db, world, published):
    with db.session_scope() as s:
        mine, theirs = _delivery(s, published, world.romashka), _delivery(s, published, world.vector)
        with pytest.raises(NotFound):
            deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=theirs.id)
        with pytest.raises(NotFound):
            deliveries.get_delivery(session=s, delivery_id=theirs.id, user=load(s, world.outsider))
        from portal.errors import Forbidden

        with pytest.raises(Forbidden):
            deliveries.confirm(session=s, actor=load(s, world.ivanova), delivery_id=mine.id, note="сам")
        with pytest.raises(Forbidden):
            deliveries.confirm(session=s, actor=load(s, world.developer), delivery_id=mine.id, note="x")
        with pytest.raises(NotFound):
            deliveries.record_handover(session=s, actor=load(s, world.support), package_id=published,
                                       organization="third", channel="email")
        assert [d.id for d in deliveries.list_deliveries(session=s, user=load(s, world.ivanova))] == [mine.id]


def test_withdrawn_package_deliveries_are_frozen(db, settings, world, published):
    with db.session_scope() as s:
        service.withdraw_package(session=s, settings=settings, actor=load(s, world.support), package_id=published,
                                 reason="Регрессия")
        d = _delivery(s, published, world.romashka)
        with pytest.raises(Conflict, match="отозван"):
            deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=d.id)
        with pytest.raises(Conflict, match="отозван"):
            deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=d.id, note="x")


def test_overdue_marking_by_the_scheduler(db, settings, world, published):
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    jobs = {name: job for name, job in REGISTRY.by_name().items() if name == "releases.overdue"}
    scheduler = Scheduler(settings, db, clock=lambda: clock["now"], jobs=jobs)
    assert scheduler.tick() == ["releases.overdue"]
    with db.session_scope(write=False) as s:
        assert not any(d.overdue for d in s.query(Delivery))
    with db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id=published)
        deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
    clock["now"] = now + dt.timedelta(days=settings.delivery_overdue_days, hours=2)
    assert scheduler.tick() == ["releases.overdue"]
    with db.session_scope(write=False) as s:
        assert _delivery(s, published, world.vector).overdue is True  # still pending
        assert _delivery(s, published, world.romashka).overdue is False  # downloaded in time
        assert audit.query(s, action="delivery.overdue")[0].details["days"] == settings.delivery_overdue_days
        board = deliveries.list_deliveries(session=s, user=load(s, world.support), overdue=True)
        assert [d.organization.slug for d in board] == ["vector"]
    with db.session_scope() as s:
        d = deliveries.record_handover(session=s, actor=load(s, world.support), package_id=published,
                                       organization="vector", channel="email")
        assert d.overdue is False


def _resolve(db, settings, world, ticket_id):
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=ticket_id)
        for status in ("in_analysis", "resolved"):
            tickets.change_status(session=s, settings=settings, ticket=ticket, actor=load(s, world.support),
                                  status=status, solution="Исправлено в пакете")


def test_ticket_cannot_close_until_the_fix_is_confirmed(db, settings, world, published):
    _resolve(db, settings, world, world.t_romashka)
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=world.t_romashka)
        with pytest.raises(Conflict) as exc:
            tickets.change_status(session=s, settings=settings, ticket=ticket, actor=load(s, world.ivanova),
                                  status="closed")
        assert "Исправление pkg-r опубликовано, но ещё не передано" in exc.value.extra["blockers"][0]
    with db.session_scope() as s:
        d = _delivery(s, published, world.romashka)
        deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=d.id)
        deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=d.id)
        kinds = [e.kind for e in tickets.history(session=s, ticket=tickets.get_ticket_unchecked(
            session=s, ticket_id=world.t_romashka), user=load(s, world.support))]
        assert "fix_published" in kinds and kinds[-1] == "fix_delivered"
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=world.t_romashka)
        tickets.change_status(session=s, settings=settings, ticket=ticket, actor=load(s, world.ivanova),
                              status="closed")
        assert ticket.status == "closed"


def test_second_line_overrides_the_guard_with_a_reason(db, settings, world, published):
    _resolve(db, settings, world, world.t_romashka)
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=world.t_romashka)
        tickets.change_status(session=s, settings=settings, ticket=ticket, actor=load(s, world.support),
                              status="closed", override=True, reason="Заказчик отказался от установки")
        assert ticket.status == "closed"


def test_ticket_page_shows_the_fix_delivery(api, world, published):
    page = api.get("ivanova", f"/tickets/{world.t_romashka}")
    assert page.status_code == 200
    assert 'data-testid="ticket-fix-delivery"' in page.text and "pkg-r" in page.text
    assert "можно скачать — скачайте пакет и подтвердите получение" in page.text  # the customer's words
    other = api.get("petrov", f"/tickets/{world.t_vector}")
    assert "ticket-fix-delivery" not in other.text


def test_customers_are_told_of_the_package_and_of_a_handover(db, settings, world, published):
    """Publishing tells each entitled organisation (also one without tickets in the package); a hand-over by
    another channel asks the organisation to acknowledge it. Nobody learns of another organisation's tickets."""
    from portal.notify.models import OutboxMessage

    def messages(kind):
        with db.session_scope(write=False) as s:
            return [(m.organization_id, m.recipient, m.body_text)
                    for m in s.query(OutboxMessage).filter_by(kind=kind)]

    available = messages("package_available")
    assert {org for org, _, _ in available} == {world.romashka.id, world.vector.id}
    for org, recipient, body in available:
        assert "pkg-r" in body
        if org == world.vector.id:
            assert recipient == world.petrov.email and world.t_romashka not in body
    with db.session_scope() as s:
        deliveries.record_handover(session=s, actor=load(s, world.support), package_id=published,
                                   organization="vector", channel="email", note="Отправили архив почтой")
    awaiting = messages("delivery_awaiting_acknowledgement")
    assert [(org, recipient) for org, recipient, _ in awaiting] == [(world.vector.id, world.petrov.email)]
    assert world.t_romashka not in awaiting[0][2]
