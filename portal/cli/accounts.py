"""portal org … / portal user …"""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from portal.accounts import service
from portal.accounts.models import Role
from portal.accounts.security import generate_password
from portal.cli.common import (
    code_words,
    columns,
    console,
    database,
    err_console,
    handle_errors,
    operator,
    read_password_stdin,
    say,
)

org_app = typer.Typer(help="Customer organisations.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)


@org_app.command("add")
@handle_errors
def org_add(slug: str = typer.Argument(..., help="Short Latin code, e.g. romashka"),
            name: str = typer.Option(..., "--name", help="Full name, e.g. «ООО Ромашка»")):
    """Add a customer organisation."""
    db = database()
    with db.session_scope() as session:
        org = service.create_organization(session=session, actor=operator(), slug=slug, name=name)
        console.print(say("cli.org.added", slug=f"[bold]{org.slug}[/bold]", name=org.name))


@org_app.command("list")
@handle_errors
def org_list():
    """List customer organisations."""
    db = database()
    with db.session_scope(write=False) as session:
        table = Table(*columns("slug", "name", "users"))
        for org in service.list_organizations(session=session):
            table.add_row(org.slug, org.name, str(len(org.users)))
        console.print(table)


@user_app.command("add")
@handle_errors
def user_add(
    username: str,
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(r.value for r in Role)}"),
    org: str | None = typer.Option(None, "--org", help="Organisation slug (required for customers)"),
    password: str | None = typer.Option(None, "--password", help="Password (prefer --password-stdin)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
    email: str | None = typer.Option(None, "--email"),
    name: str = typer.Option("", "--name", help="Full name"),
):
    """Add a user. Without a password one is generated and printed once."""
    if password and password_stdin:
        err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.user.both_passwords')}")
        raise typer.Exit(2)
    generated = False
    if password_stdin:
        password = read_password_stdin()
    elif not password:
        password, generated = generate_password(), True
    db = database()
    with db.session_scope() as session:
        user = service.create_user(session=session, actor=operator(), username=username, role=role,
                                   password=password, organization=org, email=email, full_name=name)
        console.print(say("cli.user.added", username=f"[bold]{user.username}[/bold]",
                          role=code_words("role.", user.role)))
    if generated:
        console.print(say("cli.user.password_once", password=f"[bold]{password}[/bold]"))


@user_app.command("list")
@handle_errors
def user_list():
    """List users."""
    db = database()
    with db.session_scope(write=False) as session:
        table = Table(*columns("login", "role", "organization", "email", "active"))
        for u in service.list_users(session=session):
            # the role as `--role` takes it: the operator's next command names it so
            table.add_row(u.username, u.role, u.organization.slug if u.organization else "",
                          u.email or "", say("common.yes") if u.is_active else say("common.no"))
        console.print(table)


@user_app.command("disable")
@handle_errors
def user_disable(username: str):
    """Disable a user and end all their sessions and tokens."""
    db = database()
    with db.session_scope() as session:
        service.disable_user(session=session, actor=operator(), username=username)
    console.print(say("cli.user.disabled", username=f"[bold]{username}[/bold]"))


@user_app.command("passwd")
@handle_errors
def user_passwd(username: str,
                password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from stdin")):
    """Set a user's password (asked twice at the terminal); all their sessions end."""
    if password_stdin:
        password = read_password_stdin()
    else:
        password = getpass.getpass(say("cli.user.new_password"))
        if password != getpass.getpass(say("cli.user.repeat_password")):
            err_console.print(f"[red]{say('cli.error')}[/red] {say('cli.user.passwords_differ')}")
            raise typer.Exit(2)
    db = database()
    with db.session_scope() as session:
        service.set_password(session=session, actor=operator(), username=username, password=password)
    console.print(say("cli.user.password_changed", username=f"[bold]{username}[/bold]"))
