"""What awaits each role on its home page: the tickets where the next step is theirs.

Customer — their organisation's tickets that ask something of them (information, confirming a solution) and the
rest still open; second line — tickets nobody reacted to yet, most urgent deadline first, and those they took where
the customer answered last; third line — escalated tickets, those without a planned date first; QA — tickets
awaiting verification.
"""

from __future__ import annotations

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session, selectinload

from portal import policy
from portal.tickets.models import Status, Ticket, TicketEvent

LIMIT = 20
# What the customer is asked to do, by status: their step first on their home page.
CUSTOMER_STEPS = {Status.awaiting_info.value: 0, Status.resolved.value: 1}


def customer_tickets(*, session: Session, user, limit: int = LIMIT) -> list[Ticket]:
    """The organisation's tickets still in work or resolved and not yet closed: those asking something of the
    customer first (information wanted, a solution to accept), then the rest, newest first."""
    policy.require(user, "ticket.view")
    stmt = (select(Ticket).where(Ticket.organization_id == user.organization_id,
                                 Ticket.status.not_in([Status.closed.value]))
            .order_by(Ticket.registered_at.desc()).limit(200))
    tickets = [t for t in session.scalars(stmt)
               if t.is_open or t.status == Status.resolved.value]
    tickets.sort(key=lambda t: CUSTOMER_STEPS.get(t.status, len(CUSTOMER_STEPS)))
    return tickets[:limit]


def awaiting_reaction(*, session: Session, user, limit: int = LIMIT) -> list[Ticket]:
    """New tickets no one has reacted to, the nearest reaction deadline (or the longest overdue) first. A reaction
    is second line's first status change or public reply, so every ticket waiting for one is still new: the
    status index finds them without reading the open ones."""
    policy.require(user, "ticket.queue")
    # The status is written into the SQL, not bound: a planner proves a partial index's condition only from a
    # constant (SQLite always, PostgreSQL once a prepared statement goes generic).
    unreacted_new = and_(Ticket.status == literal(Status.new.value, literal_execute=True), Ticket.reacted_at.is_(None))
    stmt = (select(Ticket).where(unreacted_new)
            .options(selectinload(Ticket.organization)).order_by(Ticket.sla_reaction_due, Ticket.id).limit(limit))
    return list(session.scalars(stmt))


def awaiting_my_answer(*, session: Session, user, limit: int = LIMIT) -> list[Ticket]:
    """Open tickets assigned to the reader whose last public comment is the customer's: they wait for a reply,
    the longest waiting first."""
    policy.require(user, "ticket.queue")
    # Each of the reader's open tickets (ix_tickets_assignee_open) meets its last public comment
    # (ix_ticket_events_comments) without either table's rows being read; only the page's tickets are loaded.
    last_comment = (select(func.max(TicketEvent.id))
                    .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "comment",
                           TicketEvent.public.is_(True))
                    .correlate(Ticket).scalar_subquery())
    waiting = list(session.scalars(
        select(Ticket.id).join(TicketEvent, TicketEvent.id == last_comment)
        .where(Ticket.assignee_id == user.id, Ticket.is_open.is_(True), Ticket.status != Status.awaiting_info.value,
               TicketEvent.actor_is_staff.is_(False))
        .order_by(TicketEvent.at, TicketEvent.id).limit(limit)))
    loaded = {ticket.id: ticket for ticket in session.scalars(
        select(Ticket).where(Ticket.id.in_(waiting)).options(selectinload(Ticket.organization)))}
    return [loaded[ticket_id] for ticket_id in waiting]


def in_status(*, session: Session, user, status: str, limit: int = LIMIT) -> list[Ticket]:
    """Tickets in one status in order of arrival (the regulation's rule); escalated ones without a planned
    date come first, as setting it is the third line's first task."""
    policy.require(user, "ticket.queue")
    stmt = (select(Ticket).where(Ticket.status == status)
            .options(selectinload(Ticket.organization), selectinload(Ticket.assignee))
            .order_by(Ticket.eta.is_not(None), Ticket.registered_at, Ticket.id).limit(limit))
    return list(session.scalars(stmt))
