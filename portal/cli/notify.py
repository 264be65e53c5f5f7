"""portal outbox … / portal intake …"""

from __future__ import annotations

import datetime as dt
import os
import socket
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from portal.cli.common import (
    code_words,
    columns,
    console,
    database,
    err_console,
    handle_errors,
    language,
    operator,
    say,
)
from portal.db import utcnow
from portal.notify import intake, sender, service

outbox_app = typer.Typer(help="Outgoing e-mail: the outbox and its retries.", no_args_is_help=True)
intake_app = typer.Typer(help="Incoming e-mail: the support mailbox.", no_args_is_help=True)


def _local(value: dt.datetime | None, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if value else ""


@outbox_app.command("list")
@handle_errors
def outbox_list(status: str | None = typer.Option(None, "--status", help="pending, sending, sent or failed"),
                limit: int = typer.Option(50, "--limit")):
    """List outbox messages, newest first, with their attempts and last error."""
    db = database()
    tz = db.settings.timezone
    with db.session_scope(write=False) as session:
        counts = service.outbox_counts(session=session)
        table = Table("№", *columns("created", "to", "subject", "status", "attempts", "next_attempt", "last_error"))
        for m in service.list_outbox(session=session, status=status, limit=limit):
            table.add_row(str(m.id), _local(m.created_at, tz), m.recipient, m.subject,
                          code_words("notify.status.", m.status), str(m.attempts),
                          _local(m.next_attempt_at, tz) if m.status == "pending" else "", m.last_error)
        console.print(table)
        console.print(", ".join(f"{code_words('notify.status.', k)}: {v}" for k, v in counts.items()))


@outbox_app.command("retry")
@handle_errors
def outbox_retry(message_id: int | None = typer.Argument(None, help="The message's id (portal outbox list)"),
                 all_failed: bool = typer.Option(False, "--all-failed", help="Every failed message")):
    """Send a failed message (or every failed one) again at the next run of the sender."""
    if (message_id is None) == (not all_failed):
        err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.outbox.id_or_all')}")
        raise typer.Exit(2)
    db = database()
    with db.session_scope() as session:
        if message_id is None:  # so --all-failed (exactly one of the two was given)
            count = service.retry_all_failed(session=session, actor=operator())
            console.print(say("cli.outbox.retry_all", count=count))
        else:
            message = service.retry(session=session, actor=operator(), message_id=message_id)
            console.print(say("cli.outbox.retry_one", id=message.id, recipient=message.recipient))


@outbox_app.command("send")
@handle_errors
def outbox_send():
    """Send every due message now (what the notify.outbox job does every 30 seconds)."""
    db = database()
    if not db.settings.smtp_url:
        err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.outbox.no_smtp')}")
        raise typer.Exit(2)
    report = sender.deliver_due(settings=db.settings, db=db, owner=f"cli:{socket.gethostname()}:{os.getpid()}",
                                now=utcnow())
    console.print(report.summary().in_language(language()))
    for error in report.errors:
        err_console.print(f"  • {error}")
    if report.errors:
        raise typer.Exit(1)


@intake_app.command("poll")
@handle_errors
def intake_poll():
    """Read the support mailbox now (what the notify.intake job does every minute)."""
    db = database()
    if not db.settings.imap_url:
        err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.intake.no_imap')}")
        raise typer.Exit(2)
    report = intake.poll(settings=db.settings, db=db, now=utcnow())
    console.print(str(report.summary()))
    if report.errors:
        raise typer.Exit(1)
