"""Reading tickets: one by ID as the reader may see it, lists, second line's queue and its summary."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from portal import policy
from portal.accounts.models import Organization, User
from portal.db import utcnow
from portal.errors import Invalid, NotFound
from portal.tickets.labels import choices as _choices
from portal.tickets.models import (
    Priority,
    Status,
    Ticket,
    TicketEvent,
)


def _not_found(ticket_id: str) -> NotFound:
    return NotFound(f"Заявка {ticket_id} не найдена. Проверьте номер (например, PRM-2026-00042).")


def get_ticket_unchecked(*, session: Session, ticket_id: str) -> Ticket:
    """The ticket by ID with its attachments and people loaded, without a permission check (jobs)."""
    ticket = session.scalar(
        select(Ticket).where(Ticket.id == (ticket_id or "").strip().upper())
        .options(selectinload(Ticket.attachments), selectinload(Ticket.assignee), selectinload(Ticket.requester))
    )
    if ticket is None:
        raise _not_found(ticket_id)
    return ticket


def get_ticket(*, session: Session, ticket_id: str, user) -> Ticket:
    """The ticket if the reader may see it; another organisation's ticket answers 404 like an unknown one."""
    try:
        ticket = get_ticket_unchecked(session=session, ticket_id=ticket_id)
    except NotFound:
        raise _not_found(ticket_id) from None
    if policy.decide(user, "ticket.view", ticket) is policy.HIDE:
        raise _not_found(ticket_id)
    policy.require(user, "ticket.view", ticket)
    return ticket


def history(*, session: Session, ticket: Ticket, user) -> list[TicketEvent]:
    """The ticket's events the reader may see: internal comments only for staff."""
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    if not policy.allows(user, "ticket.view_internal", ticket):
        stmt = stmt.where(TicketEvent.public.is_(True))
    return list(session.scalars(stmt))


@dataclasses.dataclass
class TicketFilters:
    organization: str | None = None  # slug
    priority: str | None = None
    status: str | None = None  # a status, or "open"
    module: str | None = None
    assignee: str | None = None  # username, or "none"
    kind: str | None = None


def _filtered(session: Session, user, filters: TicketFilters):
    policy.require(user, "ticket.view")
    stmt = select(Ticket).options(selectinload(Ticket.assignee))
    if not policy.allows(user, "ticket.view_internal"):
        stmt = stmt.where(Ticket.organization_id == user.organization_id)
    errors = {}
    if filters.organization:
        org_id = session.scalar(select(Organization.id).where(Organization.slug == filters.organization))
        stmt = stmt.where(Ticket.organization_id == (org_id or -1))
    if filters.priority:
        if filters.priority not in Priority.__members__:
            errors["priority"] = f"допустимы: {_choices(Priority)}"
        stmt = stmt.where(Ticket.priority == filters.priority)
    if filters.status == "open":
        stmt = stmt.where(Ticket.is_open == true())
    elif filters.status:
        if filters.status not in Status.__members__:
            errors["status"] = f"допустимы: open, {_choices(Status)}"
        stmt = stmt.where(Ticket.status == filters.status)
    if filters.kind:
        stmt = stmt.where(Ticket.kind == filters.kind)
    if filters.module:
        stmt = stmt.where(Ticket.module == filters.module)
    if filters.assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        user_id = session.scalar(select(User.id).where(User.username == filters.assignee))
        stmt = stmt.where(Ticket.assignee_id == (user_id or -1))
    if errors:
        raise Invalid.fields(errors)
    return stmt


def list_tickets(*, session: Session, user, filters: TicketFilters | None = None, limit: int = 50,
                 offset: int = 0) -> list[Ticket]:
    """Tickets the reader may see, newest first; customers only their organisation's."""
    stmt = _filtered(session, user, filters or TicketFilters())
    stmt = stmt.order_by(Ticket.registered_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def queue(*, session: Session, user, filters: TicketFilters | None = None, limit: int = 50,
          offset: int = 0) -> list[Ticket]:
    """Second line's queue: open tickets in order of arrival (the regulation's rule)."""
    policy.require(user, "ticket.queue")
    filters = filters or TicketFilters()
    if not filters.status:
        filters = dataclasses.replace(filters, status="open")
    stmt = _filtered(session, user, filters)
    stmt = stmt.order_by(Ticket.registered_at, Ticket.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


@dataclasses.dataclass
class QueueSummary:
    open_by_priority: dict[str, int]
    breached: int
    unassigned: int

    @property
    def total(self) -> int:
        return sum(self.open_by_priority.values())


def queue_summary(*, session: Session, now: dt.datetime | None = None) -> QueueSummary:
    """Open tickets by priority, those past their reaction deadline, those nobody took (one index-only pass)."""
    now = now or utcnow()
    breached = or_(Ticket.sla_met == false(), and_(Ticket.reacted_at.is_(None), Ticket.sla_reaction_due < now))
    rows = session.execute(
        select(Ticket.priority, func.count(), func.sum(case((breached, 1), else_=0)),
               func.sum(case((Ticket.assignee_id.is_(None), 1), else_=0)))
        .where(Ticket.is_open == true()).group_by(Ticket.priority)
    ).all()
    counts = {priority: count for priority, count, _, _ in rows}
    return QueueSummary({p.value: counts.get(p.value, 0) for p in Priority},
                        sum(int(b or 0) for _, _, b, _ in rows), sum(int(u or 0) for _, _, _, u in rows))
