"""Background jobs of deliveries: pending deliveries past PORTAL_DELIVERY_OVERDUE_DAYS are marked overdue; second line
is reminded of withdrawal notices no customer acknowledged (every PORTAL_INFO_REMINDER_DAYS working days)."""

from __future__ import annotations

import datetime as dt

from portal.i18n import message
from portal.jobs import Job, JobContext
from portal.releases import deliveries, notices


def mark_overdue(ctx: JobContext) -> str:
    with ctx.db.session_scope() as session:
        count = deliveries.mark_overdue(session=session, settings=ctx.settings, now=ctx.now)
    return message("job_report.overdue", count=count)


def remind_unacknowledged(ctx: JobContext) -> str:
    with ctx.db.session_scope() as session:
        count = notices.remind(session=session, settings=ctx.settings, now=ctx.now)
    return message("job_report.notice_reminders", count=count)


# Added to the scheduler's registry by portal.wiring.
JOBS = (
    Job("releases.overdue", run=mark_overdue, every=dt.timedelta(hours=1),
        description="Mark pending fix deliveries overdue"),
    Job("releases.notice_reminders", run=remind_unacknowledged, every=dt.timedelta(minutes=15),
        description="Remind second line of withdrawal notices not acknowledged, on the SLA calendar's working days"),
)
