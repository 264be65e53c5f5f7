"""A ticket's history: every change is an event, audited in the same transaction, told to the listeners."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy.orm import Session

from portal import audit, i18n
from portal.db import utcnow
from portal.policy import Actor
from portal.registry import Registry
from portal.tickets.models import (
    Ticket,
    TicketEvent,
)


class EventListener(Protocol):
    """Told of every event after it is flushed, in the event's transaction (notifications write their outbox);
    added by ``portal.wiring``."""

    def __call__(self, *, session: Session, ticket: Ticket, event: TicketEvent) -> None: ...


EVENT_LISTENERS: Registry[EventListener] = Registry("tickets.event_listeners")


def record_event(*, session: Session, ticket: Ticket, actor: Actor, kind: str, comment: str = "", public: bool = True,
                 details: dict[str, Any] | None = None, from_status: str | None = None,
                 to_status: str | None = None, now: dt.datetime | None = None) -> TicketEvent:
    """Add an event to the ticket's history, audit it, and tell the listeners (same transaction)."""
    now = now or utcnow()
    # The history names the person (the customer whose e-mail intake registered); the audit log the actor.
    person = actor.person
    event = TicketEvent(
        ticket_id=ticket.id, at=now, actor_id=person.id if person is not None else None,
        # the portal's own actors in words («Фоновое задание «Напоминания заказчикам»», not «задание notify…»)
        actor_name=(person.display_name if person is not None else
                    i18n.actor_words(actor.audit_name) or actor.display_name), actor_is_staff=actor.is_staff, kind=kind, from_status=from_status,
        to_status=to_status, comment=comment or "", public=public, details=audit._jsonable(details or {}),
    )
    session.add(event)
    ticket.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action=f"ticket.{kind}", object_type="ticket", object_id=ticket.id,
                 organization_id=ticket.organization_id,
                 details={"from": from_status, "to": to_status, "public": public, **(details or {})})
    for listener in EVENT_LISTENERS:
        listener(session=session, ticket=ticket, event=event)
    return event
