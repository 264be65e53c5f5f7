"""portal ticket … / portal catalogue …"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer
from rich.table import Column, Table

from portal.cli.common import console, database, handle_errors, operator, settings
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
        table = Table("registered", "organisation", "priority", "status", "module", "summary", "reaction due")
        table.columns.insert(0, Column("id", no_wrap=True))
        for t in tickets:
            due = _local(t.sla_reaction_due) + (" BREACHED" if sla_breached(t, now=now) else "")
            table.add_row(t.id, _local(t.registered_at), t.organization.slug, t.priority, t.status, t.module,
                          t.summary, due)
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
        rows = [
            ("organisation", f"{t.organization.name} ({t.organization.slug})"), ("status", t.status),
            ("priority", t.priority), ("kind", t.kind), ("channel", t.channel),
            ("module / version", f"{t.module} / {t.product_version}"
                                 + (" (no longer supported)" if t.version_unsupported else "")),
            ("contact", ", ".join(x for x in (t.contact_name, t.contact_email, t.contact_phone) if x)),
            ("registered", _local(t.registered_at)),
            ("reaction due", _local(t.sla_reaction_due) + (" BREACHED" if sla_breached(t, now=now) else "")),
            ("reacted", _local(t.reacted_at)), ("ETA", _local(t.eta)),
            ("paused", f"{int(t.paused_total(now).total_seconds()) // 60} min"),
            ("assignee", t.assignee.username if t.assignee else ""),
        ]
        if t.resolution_solution or t.resolution_workaround:
            rows += [("cause", t.resolution_cause), ("solution", t.resolution_solution),
                     ("workaround", t.resolution_workaround)]
        for name, value in rows:
            console.print(f"  {name:<17} {value}")
        console.print(f"\n{t.description}\n")
        table = Table("when", "who", "event", "from → to", "comment", "public")
        for e in service.history(session=session, ticket=t, user=operator()):
            table.add_row(_local(e.at, "%Y-%m-%d %H:%M:%S"), e.actor_name, e.kind,
                          f"{e.from_status or ''} → {e.to_status}" if e.to_status else "", e.comment,
                          "yes" if e.public else "internal")
        console.print(table)


@module_app.command("add")
@handle_errors
def module_add(name: str, description: str = typer.Option("", "--description")):
    """Add a product module."""
    db = database()
    with db.session_scope() as session:
        service.add_module(session=session, actor=operator(), name=name, description=description)
    console.print(f"Module «{name}» added.")


@module_app.command("list")
@handle_errors
def module_list():
    """List product modules."""
    db = database()
    with db.session_scope(write=False) as session:
        table = Table("module", "description")
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
    console.print(f"Version {name} added{' (no longer supported)' if unsupported else ''}.")


@version_app.command("list")
@handle_errors
def version_list():
    """List product versions."""
    db = database()
    with db.session_scope(write=False) as session:
        table = Table("version", "supported")
        for v in service.list_versions(session=session):
            table.add_row(v.name, "yes" if v.supported else "no longer supported")
        console.print(table)


@version_app.command("unsupport")
@handle_errors
def version_unsupport(name: str):
    """Mark a version no longer supported (its tickets may be deferred with that reason)."""
    db = database()
    with db.session_scope() as session:
        service.set_version_supported(session=session, actor=operator(), name=name, supported=False)
    console.print(f"Version {name} is no longer supported.")
