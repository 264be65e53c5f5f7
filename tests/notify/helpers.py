"""Building tickets and sending the outbox for the notification tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.accounts.models import User
from portal.notify import sender
from portal.notify.models import OutboxMessage
from portal.tickets import service as tickets
from tests.tickets.helpers import ticket_input


def user_in(session, user) -> User:
    return session.get(User, user.id)


def register(db, settings, actor, now=None, **overrides) -> str:
    """Register a ticket as ``actor`` (a customer: their organisation; staff: pass organization=, channel=)."""
    with db.session_scope() as s:
        contact = {"contact_email": actor.email, "contact_name": actor.full_name or actor.username} \
            if actor.role == "customer" else {}
        ticket = tickets.register(session=s, settings=settings, actor=user_in(s, actor),
                                  data=ticket_input(**{**contact, **overrides}), now=now)
        return ticket.id


def act(db, ticket_id: str, fn, actor, **kw):
    """Run a tickets service function on a ticket as ``actor`` in one committed transaction."""
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=ticket_id)
        return fn(session=s, ticket=ticket, actor=user_in(s, actor), **kw)


def deliver(db, settings, now: dt.datetime | None = None, owner: str = "test"):
    return sender.deliver_due(settings=settings, db=db, owner=owner, now=now or dt.datetime.now(dt.UTC))


def outbox(db) -> list[OutboxMessage]:
    with db.session_scope(write=False) as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()  # keep the loaded values after the read session rolls back
        return rows
