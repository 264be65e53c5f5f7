"""What every command shares: settings from the environment, the database, error handling."""

from __future__ import annotations

import functools
import getpass
import os
import sys

import typer
from rich.console import Console

from portal import i18n
from portal.config import Settings
from portal.db import Database
from portal.errors import PortalError
from portal.policy import SystemActor

console = Console()
err_console = Console(stderr=True)


def language() -> str:
    """The operator's language: English when the locale that words messages (LC_ALL, else LC_MESSAGES, else LANG)
    is English, Russian otherwise — also for C, POSIX or nothing set, as everywhere in the portal."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else i18n.DEFAULT_LANGUAGE
    return i18n.DEFAULT_LANGUAGE


def say(key: str, **values) -> str:
    """A catalogue text in the operator's language."""
    return i18n.message(key, **values).in_language(language())


def code_words(prefix: str, code: str | None) -> str:
    """A recorded code (a status, a role) in the operator's words when the catalogue has ``prefix + code``."""
    key = f"{prefix}{code}"
    return i18n.translate(key, language()) if key in i18n.catalogue(i18n.DEFAULT_LANGUAGE) else (code or "")


def columns(*keys: str) -> list[str]:
    """A table's column headings (``cli.col.*``) in the operator's language."""
    return [say(f"cli.col.{key}") for key in keys]

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
        err_console.print(f"[red]{say('cli.config_error')}[/red] {exc}")
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
        with i18n.using(language()):  # the command's messages and refusals in the operator's language
            try:
                return fn(*args, **kwargs)
            except PortalError as exc:
                err_console.print(f"[red]{say('cli.error')}[/red] {exc.detail}")
                for e in exc.errors or []:
                    err_console.print(f"  • {e.get('label') or e['field']}: {e['message']}")
                raise typer.Exit(1 if exc.status_code != 422 else 2) from None

    return wrapper


def read_password_stdin() -> str:
    value = sys.stdin.readline().rstrip("\n")
    if not value:
        err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.no_password')}")
        raise typer.Exit(2)
    return value
