"""``portal doctor``: one line per configured component, exit code 1 when any fails."""

from __future__ import annotations

import typer

from portal.cli.common import console, database, err_console, handle_errors, say


@handle_errors
def doctor_cmd():
    """Check the database, data home, blob store, content repository and its remote, search index, SMTP and IMAP
    (when configured); one line each, exit code 1 when anything fails."""
    from portal import health  # lazy: the report loads every checked component (search, git, SMTP)

    db = database(check=False)
    failed = 0
    for label, ok, detail in health.doctor(db.settings, db):
        if ok:
            console.print(f"[green]{say('cli.doctor.ok')}[/green]  {label}: {detail}")
        else:
            failed += 1
            err_console.print(f"[red]{say('cli.doctor.fail')}[/red]    {label}: {detail}")
    if failed:
        err_console.print(say("cli.doctor.failed", count=failed))
        raise typer.Exit(1)
    console.print(say("cli.doctor.all_ok"))
