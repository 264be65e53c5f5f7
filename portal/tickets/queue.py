"""Reading tickets: one by ID as the reader may see it, lists, second line's queue and its summary."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
import weakref

from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from portal import policy
from portal.accounts.models import Organization, User
from portal.db import utcnow
from portal.errors import Invalid, NotFound, not_found
from portal.i18n import message
from portal.tickets.labels import choices as _choices
from portal.tickets.models import (
    Priority,
    Status,
    Ticket,
    TicketEvent,
)


def _not_found(ticket_id: str) -> NotFound:
    return not_found("ticket", ticket_id, hint=message("errors_tickets.check_number"))


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


FIND_LIMIT = 20
_FULL_ID = re.compile(r"^([A-Z]+)-(\d{4})-(\d{1,5})$")
_YEAR_NUMBER = re.compile(r"^(\d{4})-(\d{1,5})$")
_NUMBER = re.compile(r"^\d{1,5}$")


def find_tickets(*, session: Session, user, query: str, prefix: str, year: int) -> list[Ticket]:
    """Tickets the reader may see that a typed reference names, best first: a full ID (zeros optional,
    «prm-2026-7»), «2026-7», a bare number (this year's ticket first, then that number of other years), or a part
    of an ID («2026-000»). Another organisation's ticket is never among them, so «not found» looks the same
    whether it exists or not."""
    text = (query or "").strip().upper()
    if not text:
        raise Invalid.fields({"id": message("errors_tickets.find_number", example=f"{prefix}-{year}-00042")})
    visible = _filtered(session, user, TicketFilters())
    m = _FULL_ID.match(text) or _YEAR_NUMBER.match(text)
    if m and int(m.groups()[-1]) > 0:
        parts = m.groups()
        prefix_typed, typed_year, number = parts if len(parts) == 3 else (prefix, *parts)
        found = list(session.scalars(visible.where(Ticket.id == f"{prefix_typed}-{typed_year}-{int(number):05d}")))
    elif _NUMBER.fullmatch(text) and int(text) > 0:
        # This year's ticket with that number; failing that, the same number of other years, newest first.
        suffix = f"-{int(text):05d}"
        this_year = session.scalar(visible.where(Ticket.id == f"{prefix}-{year}{suffix}"))
        if this_year is not None:
            return [this_year]
        stmt = visible.where(Ticket.id.like(f"%-____{suffix}")).order_by(Ticket.registered_at.desc())
        found = list(session.scalars(stmt.limit(FIND_LIMIT)))
    else:  # a part of an ID, as typed (LIKE's wildcards taken literally)
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = visible.where(Ticket.id.like(pattern, escape="\\")).order_by(Ticket.registered_at.desc())
        found = list(session.scalars(stmt.limit(FIND_LIMIT)))
    if not found:
        raise _not_found(query.strip())
    return found


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
            errors["priority"] = message("errors_tickets.allowed", values=_choices(Priority))
        stmt = stmt.where(Ticket.priority == filters.priority)
    if filters.status == "open":
        stmt = stmt.where(Ticket.is_open == true())
    elif filters.status:
        if filters.status not in Status.__members__:
            errors["status"] = message("errors_tickets.allowed", values="open, " + _choices(Status))
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


# Counting every open ticket is an index-only pass, but at 100,000 open tickets (a million in all) it is the
# largest part of the queue page and of second line's home, on every page view by every second-liner. The summary
# is an overview — the list under it is read live — so each process shares one count per database for a few
# seconds; registering or taking a ticket shows in it at most this much later, on this node and on every other.
SUMMARY_MAX_AGE_SECONDS = 5.0


class _SharedSummaries:
    """The last summary counted per database (engine), with the monotonic time it was counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, engine, max_age: float) -> QueueSummary | None:
        with self._lock:
            counted = self._by_engine.get(engine)
        if counted is None or time.monotonic() - counted[0] > max_age:
            return None
        return counted[1]

    def put(self, engine, summary: QueueSummary) -> None:
        with self._lock:
            self._by_engine[engine] = (time.monotonic(), summary)


_summaries = _SharedSummaries()


def queue_summary(*, session: Session, now: dt.datetime | None = None,
                  max_age: float = SUMMARY_MAX_AGE_SECONDS) -> QueueSummary:
    """Open tickets by priority, those past their reaction deadline, those nobody took: counted at most
    ``max_age`` seconds ago in this process (0 counts now)."""
    engine = session.get_bind().engine
    if max_age > 0 and (shared := _summaries.get(engine, max_age)) is not None:
        return shared
    summary = count_queue_summary(session=session, now=now)
    _summaries.put(engine, summary)
    return summary


def count_queue_summary(*, session: Session, now: dt.datetime | None = None) -> QueueSummary:
    """The summary counted now (one index-only pass over the open tickets)."""
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
