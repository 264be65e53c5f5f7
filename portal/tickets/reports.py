"""The SLA report: tickets of a period by priority, met, breached and pending, median reaction time."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import policy
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Invalid
from portal.i18n import message
from portal.tickets import sla
from portal.tickets.models import (
    Priority,
    Ticket,
)
from portal.timeutil import DateOutOfRange, parse_local


def parse_period(since: str, until: str, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """A report period from two dates (``until`` inclusive) in the portal's time zone."""
    errors: dict[str, str] = {}
    bounds: dict[str, dt.datetime] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            parsed = parse_local(text, tz)
        except DateOutOfRange as exc:
            errors[name] = str(exc)
            continue
        except ValueError:
            parsed = None
        if parsed is None:
            errors[name] = message("errors_core.date_format")
        else:
            bounds[name] = parsed
    if errors:
        raise Invalid.fields(errors)
    end = bounds["until"] + dt.timedelta(days=1) if len(until.strip()) == 10 else bounds["until"]
    return bounds["since"], end


@dataclasses.dataclass
class SlaRow:
    priority: str
    total: int = 0
    met: int = 0
    breached: int = 0
    pending: int = 0
    median_reaction_hours: float | None = None

    @property
    def met_share(self) -> float | None:
        decided = self.met + self.breached
        return round(self.met / decided, 4) if decided else None

    @property
    def breached_share(self) -> float | None:
        decided = self.met + self.breached
        return round(self.breached / decided, 4) if decided else None


@dataclasses.dataclass
class SlaReport:
    since: dt.datetime
    until: dt.datetime
    rows: list[SlaRow]
    total: SlaRow


def sla_report(*, session: Session, settings: Settings, user, since: dt.datetime, until: dt.datetime,
               now: dt.datetime | None = None) -> SlaReport:
    """Tickets registered in [since, until): by priority, met / breached / pending, median reaction time."""
    policy.require(user, "sla.report")
    if until <= since:
        raise Invalid.fields({"until": message("errors_core.period_backwards")})
    now = now or utcnow()
    calendar = sla.Calendar.from_settings(settings)
    rows = {p.value: SlaRow(p.value) for p in Priority}
    total = SlaRow("total")
    reactions: dict[str, list[dt.timedelta]] = {p.value: [] for p in Priority}
    result = session.execute(
        select(Ticket.priority, Ticket.registered_at, Ticket.sla_reaction_due, Ticket.reacted_at, Ticket.sla_met)
        .where(Ticket.registered_at >= since, Ticket.registered_at < until)
    )
    for priority, registered_at, due, reacted_at, met in result:
        row = rows[priority]
        for r in (row, total):
            r.total += 1
            if met is True:
                r.met += 1
            elif met is False or (reacted_at is None and due < now):
                r.breached += 1
            else:
                r.pending += 1
        if reacted_at is not None:
            reactions[priority].append(calendar.elapsed(registered_at, reacted_at))
    for priority, durations in reactions.items():
        rows[priority].median_reaction_hours = sla.median_hours(durations)
    total.median_reaction_hours = sla.median_hours([d for ds in reactions.values() for d in ds])
    return SlaReport(since, until, list(rows.values()), total)
