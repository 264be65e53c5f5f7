"""Background jobs of notifications: the outbox sender, reminders, the SLA scan, the intake poll."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from portal.i18n import message
from portal.jobs import Job, JobContext, JobFailed
from portal.notify import intake, sender, service


def send_outbox(ctx: JobContext) -> str:
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    if not ctx.settings.smtp_url:
        with ctx.db.session_scope(write=False) as session:
            waiting = service.outbox_counts(session=session)["pending"]
        if waiting:  # e-mails wait unsent: the admin page must say so, not «успешно»
            raise JobFailed(message("notify.job_report.smtp_missing", count=waiting))
        return message("notify.job_report.smtp_missing_nothing_waits")
    report = sender.deliver_due(settings=ctx.settings, db=ctx.db, owner=owner, now=ctx.now)
    if report.errors:  # shown on the jobs page; the messages themselves carry their own errors
        raise JobFailed(f"{report.summary()}; {report.errors[0]}")
    return report.summary()


def send_reminders(ctx: JobContext) -> str:
    with ctx.db.session_scope() as session:
        count = service.send_reminders(session=session, settings=ctx.settings, now=ctx.now)
    return message("notify.job_report.reminded", count=count)


def scan_sla(ctx: JobContext) -> str:
    with ctx.db.session_scope() as session:
        counts = service.scan_sla(session=session, settings=ctx.settings, now=ctx.now)
    return message("notify.job_report.sla", approaching=counts["sla_approaching"], breached=counts["sla_breached"])


def poll_intake(ctx: JobContext) -> str:
    if not ctx.settings.imap_url:
        return message("notify.job_report.imap_missing")
    return intake.poll(settings=ctx.settings, db=ctx.db, now=ctx.now).summary()


# Added to the scheduler's registry by portal.wiring.
JOBS = (
    Job("notify.outbox", run=send_outbox, every=dt.timedelta(seconds=30), lease=dt.timedelta(minutes=15),
        description="Send the outbox over SMTP; retry with backoff"),
    Job("notify.reminders", run=send_reminders, every=dt.timedelta(minutes=15),
        description="Remind customers of requested information every N working days"),
    Job("notify.sla", run=scan_sla, every=dt.timedelta(minutes=5),
        description="Alert second line before and after a reaction deadline"),
    Job("notify.intake", run=poll_intake, every=dt.timedelta(minutes=1), lease=dt.timedelta(minutes=15),
        description="Read the support mailbox (IMAP): new tickets, replies, held messages"),
)
