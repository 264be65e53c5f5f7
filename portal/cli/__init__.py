"""The ``portal`` command line for operators: thin wrappers over the same services the web uses."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from portal import audit, wiring
from portal.cli.accounts import org_app, user_app
from portal.cli.common import columns, console, database, err_console, handle_errors, say, settings
from portal.cli.doctor import doctor_cmd
from portal.cli.kb import kb_app
from portal.cli.notify import intake_app, outbox_app
from portal.cli.packages import package_app
from portal.cli.search import search_app
from portal.cli.tickets import catalogue_app, ticket_app
from portal.timeutil import parse_local

app = typer.Typer(help="PrimoART support portal.", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(outbox_app, name="outbox")
app.add_typer(intake_app, name="intake")
app.add_typer(kb_app, name="kb")
app.add_typer(search_app, name="search")
app.add_typer(ticket_app, name="ticket")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(package_app, name="package")
app.command("doctor")(doctor_cmd)


@app.callback()
def main_callback() -> None:
    """PrimoART support portal."""
    # Every command meets the same hooks as the web (closing a ticket from the shell checks its fix's delivery).
    wiring.wire()


@app.command("init")
@handle_errors
def init(
    demo: bool = typer.Option(False, "--demo", help="Also create demo organisations, users and content"),
    admin_password: str | None = typer.Option(None, "--admin-password", help="Password of the admin account"),
):
    """Create the data home, database, secret key, content repository and admin account."""
    from portal.bootstrap import initialise  # lazy: init alone needs bootstrap (every domain, Alembic)

    s = settings()
    report = initialise(s, demo=demo, admin_password=admin_password)
    if not report.changed:
        console.print(say("cli.init.nothing", home=s.home_path))
        return
    for line in report.done:
        console.print(f"✓ {line}")
    if report.logins:
        table = Table(*columns("login", "role", "password"), title=say("cli.init.accounts"))
        for row in report.logins:
            table.add_row(*row)
        console.print(table)


@app.command("serve")
@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", help="Worker processes (background jobs then need `portal worker`)"),
    proxy_headers: bool = typer.Option(False, "--proxy-headers", help="Trust X-Forwarded-* from the proxy"),
):
    """Run the web application."""
    import uvicorn

    s = settings()
    database()  # refuses to start on an unmigrated or newer database, saying what to run
    console.print(say("cli.serve.running", host=host, port=port, home=s.home_path))
    # The protocol class by name: worker processes import it themselves (portal/serving.py says why this one).
    uvicorn.run("portal.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=proxy_headers, log_level=s.log_level, http="portal.serving:ZeroCopyH11Protocol")


@app.command("worker")
@handle_errors
def worker(poll: float = typer.Option(2.0, "--poll", help="Seconds between looks for due jobs")):
    """Run the background jobs in this process (set PORTAL_RUN_JOBS=false for the web workers)."""
    import signal

    # lazy: only the worker runs the jobs; the other commands start without housekeeping and the scheduler
    from portal import housekeeping
    from portal.jobs import Scheduler

    wiring.wire()  # the jobs and the effects reconciliation applies (already done by the callback; idempotent)
    db = database()
    housekeeping.on_start(db.settings, db)  # what a killed process left half-done, before the first tick
    scheduler = Scheduler(db.settings, db)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    console.print(say("cli.worker.running", owner=scheduler.owner,
                      jobs=", ".join(scheduler.jobs) or say("cli.worker.no_jobs")))
    try:
        scheduler.run_forever(poll)
    except KeyboardInterrupt:
        scheduler.stop()


@app.command("config")
def config():
    """Print the effective settings, secrets masked."""
    table = Table(*columns("setting", "variable", "value"))
    for name, value in settings().masked().items():
        table.add_row(name, f"PORTAL_{name.upper()}", value)
    console.print(table)


@app.command("audit")
@handle_errors
def audit_cmd(
    since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD or an ISO date-time, portal time zone"),
    actor: str | None = typer.Option(None, "--actor", help="Username, or cli:USER, job:NAME, intake, init; cli or job alone: all of them"),
    action: str | None = typer.Option(None, "--action", help="Action or its prefix, e.g. ticket."),
    limit: int = typer.Option(100, "--limit"),
):
    """Print the audit log, newest first."""
    s = settings()
    try:
        since_at = parse_local(since, s.timezone)
    except ValueError:
        err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.audit.bad_since', value=repr(since))}")
        raise typer.Exit(2) from None
    db = database()
    with db.session_scope(write=False) as session:
        table = Table(*columns("when", "who", "action", "object", "details"))
        for e in audit.query(session, since=since_at, actor=actor, action=action, limit=limit):
            local = e.at.astimezone(ZoneInfo(s.timezone))
            details = ", ".join(f"{k}={v}" for k, v in e.details.items())
            table.add_row(local.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action,
                          f"{e.object_type} {e.object_id}", details)
        console.print(table)


def main() -> None:
    app()
