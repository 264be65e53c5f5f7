"""Every transition of the workflow, legal and illegal, through the service without HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from portal.errors import Conflict, Forbidden, Invalid
from portal.tickets import service, workflow
from portal.tickets.models import Status, Ticket
from tests.tickets.helpers import catalogue, load_user, register

STATUSES = [s.value for s in Status]
LEGAL = {(t.source, workflow.resolve_target(type("T", (), {"status_before_suspension": "escalated"})(), t))
         for t in workflow.TRANSITIONS}
FULL = {"comment": "Пришлите журнал", "reason": "Смежный сервис", "solution": "Обновить агент"}


def _ticket_in(db, settings, customer, status: str) -> str:
    tid = register(db, settings, customer)
    with db.session_scope() as s:
        s.execute(update(Ticket).where(Ticket.id == tid).values(
            status=status, status_before_suspension="escalated" if status == "suspended" else None))
    return tid


@pytest.mark.parametrize("source", STATUSES)
def test_every_pair_of_statuses(db, settings, make, source):
    catalogue(db)
    customer, admin = make.user("customer"), make.user("admin")
    for target in STATUSES:
        tid = _ticket_in(db, settings, customer, source)
        with db.session_scope() as s:
            ticket = service.get_ticket_unchecked(session=s, ticket_id=tid)
            reason = "unsupported_version" if target == "deferred" else FULL["reason"]
            kw = {**FULL, "reason": reason}
            if (source, target) in LEGAL:
                service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, admin),
                                      status=target, **kw)
                assert ticket.status == target
                assert ticket.is_open == (target not in ("resolved", "closed", "deferred"))
            else:
                with pytest.raises(Conflict) as exc:
                    service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, admin),
                                          status=target, **kw)
                assert exc.value.extra["allowed"] == workflow.allowed_targets(ticket, load_user(s, admin))
                assert target not in exc.value.extra["allowed"]


def test_required_fields_are_named(db, settings, make):
    catalogue(db)
    customer, support = make.user("customer"), make.user("support")
    cases = [("new", "awaiting_info", {}, "comment"), ("in_analysis", "suspended", {}, "reason"),
             ("new", "deferred", {"reason": "надоело"}, "reason"),
             ("in_analysis", "resolved", {"cause": "баг"}, "solution"), ("closed", "in_analysis", {}, "reason")]
    for source, target, kw, field in cases:
        tid = _ticket_in(db, settings, customer, source)
        with db.session_scope() as s, pytest.raises(Invalid) as exc:
            service.change_status(session=s, settings=settings, ticket=service.get_ticket_unchecked(
                session=s, ticket_id=tid), actor=load_user(s, support), status=target, **kw)
        assert [e["field"] for e in exc.value.errors] == [field], (source, target)
    # A workaround alone resolves.
    tid = _ticket_in(db, settings, customer, "in_verification")
    with db.session_scope() as s:
        ticket = service.get_ticket_unchecked(session=s, ticket_id=tid)
        service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, support),
                              status="resolved", workaround="Перезапустить агент")
        assert ticket.resolution_workaround == "Перезапустить агент"


@pytest.mark.parametrize("role,source,target,allowed", [
    ("developer", "new", "in_analysis", False), ("qa", "new", "escalated", False),
    ("qa", "escalated", "in_verification", True), ("developer", "in_verification", "resolved", False),
    ("customer", "resolved", "closed", True), ("customer", "resolved", "in_analysis", True),
    ("customer", "new", "in_analysis", False), ("customer", "in_verification", "resolved", False),
    ("writer", "resolved", "closed", False),
])
def test_who_may_move(db, settings, make, role, source, target, allowed):
    catalogue(db)
    org = make.org()
    customer = make.user("customer", org)
    actor = customer if role == "customer" else make.user(role)
    tid = _ticket_in(db, settings, customer, source)
    with db.session_scope() as s:
        ticket = service.get_ticket_unchecked(session=s, ticket_id=tid)
        call = lambda: service.change_status(session=s, settings=settings, ticket=ticket,  # noqa: E731
                                             actor=load_user(s, actor), status=target, reason="Повторилось",
                                             solution="Обновить")
        if allowed:
            call()
            assert ticket.status == target
        else:
            with pytest.raises(Forbidden):
                call()


def test_close_guards_block_unless_second_line_overrides_with_a_reason(db, settings, make):
    catalogue(db)
    customer, support = make.user("customer"), make.user("support")
    guard = lambda session, ticket: "опубликованное исправление ещё не передано заказчику"  # noqa: E731
    workflow.CLOSE_GUARDS.add(guard)
    try:
        tid = _ticket_in(db, settings, customer, "resolved")
        with db.session_scope() as s:
            ticket = service.get_ticket_unchecked(session=s, ticket_id=tid)
            for actor in (customer, support):
                with pytest.raises(Conflict) as exc:
                    service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, actor),
                                          status="closed")
                assert exc.value.extra["blockers"] == ["опубликованное исправление ещё не передано заказчику"]
            with pytest.raises(Forbidden):
                service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, customer),
                                      status="closed", override=True, reason="надо")
            with pytest.raises(Invalid):
                service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, support),
                                      status="closed", override=True)
            service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, support),
                                  status="closed", override=True, reason="Заказчик установил исправление сам")
            assert ticket.status == "closed"
            event = service.history(session=s, ticket=ticket, user=load_user(s, support))[-1]
            assert event.details["override"] is True and event.comment == "Заказчик установил исправление сам"
            from portal import audit

            entry = audit.query(s, action="ticket.status", object_id=tid)[0]
            assert entry.details["override"] is True and entry.details["to"] == "closed"
    finally:
        workflow.CLOSE_GUARDS.remove(guard)


def test_event_listeners_and_record_event_for_other_domains(db, settings, make):
    catalogue(db)
    customer, writer = make.user("customer"), make.user("writer")
    seen = []
    listener = lambda session, ticket, event: seen.append((ticket.id, event.kind, event.id is not None))  # noqa: E731
    service.EVENT_LISTENERS.add(listener)
    try:
        tid = register(db, settings, customer)
        with db.session_scope() as s:
            ticket = service.get_ticket_unchecked(session=s, ticket_id=tid)
            service.record_event(session=s, ticket=ticket, actor=load_user(s, writer), kind="kb_updated",
                                 comment="Опубликована статья", details={"slug": "csp"})
    finally:
        service.EVENT_LISTENERS.remove(listener)
    assert seen == [(tid, "created", True), (tid, "kb_updated", True)]
    with db.session_scope(write=False) as s:
        events = service.history(session=s, ticket=s.get(Ticket, tid), user=load_user(s, customer))
        assert [e.kind for e in events] == ["created", "kb_updated"]


def test_get_ticket_hides_other_organisations(db, settings, make):
    from portal.errors import NotFound

    catalogue(db)
    mine, theirs = make.user("customer"), make.user("customer")
    tid = register(db, settings, mine)
    with db.session_scope(write=False) as s:
        assert service.get_ticket(session=s, ticket_id=tid.lower(), user=load_user(s, mine)).id == tid
        with pytest.raises(NotFound):
            service.get_ticket(session=s, ticket_id=tid, user=load_user(s, theirs))
