"""What every command shares: settings from the environment, the database, error handling."""

from __future__ import annotations

import functools
import getpass
import os
import sys

import typer
from rich.console import Console

from portal.config import Settings
from portal.db import Database
from portal.errors import PortalError
from portal.policy import SystemActor

console = Console()
err_console = Console(stderr=True)

def operator() -> SystemActor:
    """The operator at the server's console, named by their OS account (``cli:root`` in the audit log).

    They act with an administrator's rights, through the same policy as everyone: every organisation,
    internal comments too.
    """
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (a bare container)
        name = f"uid{os.getuid()}"
    return SystemActor.operator(name)


def settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError: name the bad variable
        err_console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def database(check: bool = True) -> Database:
    # lazy: Alembic is loaded by the commands that open the database, not by --help
    from portal import migrate

    db = Database(settings())
    if check:
        migrate.check_schema(db)
    return db


def handle_errors(fn):
    """Turn domain errors into a readable message and a non-zero exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PortalError as exc:
            err_console.print(f"[red]Error:[/red] {exc.detail}")
            for e in exc.errors or []:
                err_console.print(f"  • {e.get('label') or e['field']}: {e['message']}")
            raise typer.Exit(1 if exc.status_code != 422 else 2) from None

    return wrapper


def read_password_stdin() -> str:
    value = sys.stdin.readline().rstrip("\n")
    if not value:
        err_console.print("[red]Error:[/red] no password on standard input")
        raise typer.Exit(2)
    return value
