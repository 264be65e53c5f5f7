"""portal ticket … / portal catalogue …"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer
from rich.table import Column, Table

from portal.cli.common import code_words, columns, console, database, handle_errors, operator, say, settings
from portal.db import utcnow
from portal.tickets import service
from portal.tickets.schemas import sla_breached

ticket_app = typer.Typer(help="Tickets: list and show.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The product catalogue: modules and versions.", no_args_is_help=True)
module_app = typer.Typer(help="Product modules.", no_args_is_help=True)
version_app = typer.Typer(help="Product versions, supported or no longer supported.", no_args_is_help=True)
catalogue_app.add_typer(module_app, name="module")
catalogue_app.add_typer(version_app, name="version")


def _local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(ZoneInfo(settings().timezone)).strftime(fmt) if value else ""


def _contact(ticket) -> str:
    """Each contact detail once (a ticket from an e-mail may hold the address in the contact's name too)."""
    shown: list[str] = []
    for part in (ticket.contact_name, ticket.contact_email, ticket.contact_phone):
        if part and not any(part.lower() in earlier.lower() for earlier in shown):
            shown.append(part)
    return ", ".join(shown)


@ticket_app.command("list")
@handle_errors
def ticket_list(
    org: str | None = typer.Option(None, "--org", help="Organisation slug"),
    status: str | None = typer.Option(None, "--status", help="A status, or `open`"),
    priority: str | None = typer.Option(None, "--priority", help="critical, high, medium, low"),
    module: str | None = typer.Option(None, "--module"),
    assignee: str | None = typer.Option(None, "--assignee", help="Username, or `none`"),
    queue: bool = typer.Option(False, "--queue", help="Open tickets in order of arrival (second line's queue)"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
):
    """List tickets, newest first (or the queue with --queue)."""
    filters = service.TicketFilters(organization=org, status=status, priority=priority, module=module,
                                    assignee=assignee)
    db = database()
    with db.session_scope(write=False) as session:
        fetch = service.queue if queue else service.list_tickets
        tickets = fetch(session=session, user=operator(), filters=filters, limit=limit)
        now = utcnow()
        table = Table(*columns("registered", "organization", "priority", "status", "module", "summary",
                               "reaction_due"))
        table.columns.insert(0, Column("№", no_wrap=True))
        for t in tickets:
            due = _local(t.sla_reaction_due) + (f" {say('cli.ticket.breached')}" if sla_breached(t, now=now) else "")
            table.add_row(t.id, _local(t.registered_at), t.organization.slug, code_words("priority.", t.priority),
                          code_words("status.", t.status), t.module, t.summary, due)
        console.print(table)


@ticket_app.command("show")
@handle_errors
def ticket_show(ticket_id: str = typer.Argument(..., help="e.g. PRM-2026-00042")):
    """Show a ticket and its whole history."""
    db = database()
    with db.session_scope(write=False) as session:
        t = service.get_ticket(session=session, ticket_id=ticket_id, user=operator())
        now = utcnow()
        console.print(f"[bold]{t.id}[/bold] {t.summary}")
        breached = f" {say('cli.ticket.breached')}" if sla_breached(t, now=now) else ""
        rows = [
            ("organization", f"{t.organization.name} ({t.organization.slug})"),
            ("status", code_words("status.", t.status)), ("priority", code_words("priority.", t.priority)),
            ("kind", code_words("kind.", t.kind)), ("channel", code_words("channel.", t.channel)),
            ("module_version", f"{t.module} / {t.product_version}"
                               + (f" {say('cli.ticket.unsupported')}" if t.version_unsupported else "")),
            ("contact", _contact(t)),
            ("registered", _local(t.registered_at)),
            ("reaction_due", _local(t.sla_reaction_due) + breached),
            ("reacted", _local(t.reacted_at)), ("eta", _local(t.eta)),
            ("paused", say("cli.ticket.minutes", minutes=int(t.paused_total(now).total_seconds()) // 60)),
            ("assignee", t.assignee.username if t.assignee else ""),
        ]
        if t.resolution_solution or t.resolution_workaround:
            rows += [("cause", t.resolution_cause), ("solution", t.resolution_solution),
                     ("workaround", t.resolution_workaround)]
        for field, value in rows:
            console.print(f"  {say('cli.ticket.field.' + field):<20} {value}")
        console.print(f"\n{t.description}\n")
        table = Table(*columns("when", "who", "event", "change", "comment", "public"))
        for e in service.history(session=session, ticket=t, user=operator()):
            change = (f"{code_words('status.', e.from_status) if e.from_status else ''} → "
                      f"{code_words('status.', e.to_status)}") if e.to_status else ""
            table.add_row(_local(e.at, "%Y-%m-%d %H:%M:%S"), e.actor_name, code_words("event.", e.kind), change,
                          e.comment, say("common.yes") if e.public else say("cli.ticket.internal"))
        console.print(table)


@module_app.command("add")
@handle_errors
def module_add(name: str, description: str = typer.Option("", "--description")):
    """Add a product module."""
    db = database()
    with db.session_scope() as session:
        service.add_module(session=session, actor=operator(), name=name, description=description)
    console.print(say("cli.catalogue.module_added", name=name))


@module_app.command("list")
@handle_errors
def module_list():
    """List product modules."""
    db = database()
    with db.session_scope(write=False) as session:
        table = Table(*columns("module", "description"))
        for m in service.list_modules(session=session):
            table.add_row(m.name, m.description)
        console.print(table)


@version_app.command("add")
@handle_errors
def version_add(name: str, unsupported: bool = typer.Option(False, "--unsupported", help="Already unsupported")):
    """Add a product version."""
    db = database()
    with db.session_scope() as session:
        service.add_version(session=session, actor=operator(), name=name, supported=not unsupported)
    console.print(say("cli.catalogue.version_added_unsupported" if unsupported else "cli.catalogue.version_added",
                      name=name))


@version_app.command("list")
@handle_errors
def version_list():
    """List product versions."""
    db = database()
    with db.session_scope(write=False) as session:
        table = Table(*columns("version", "supported"))
        for v in service.list_versions(session=session):
            table.add_row(v.name, say("common.yes") if v.supported else say("cli.catalogue.no_longer_supported"))
        console.print(table)


@version_app.command("unsupport")
@handle_errors
def version_unsupport(name: str):
    """Mark a version no longer supported (its tickets may be deferred with that reason)."""
    db = database()
    with db.session_scope() as session:
        service.set_version_supported(session=session, actor=operator(), name=name, supported=False)
    console.print(say("cli.catalogue.version_unsupported", name=name))
