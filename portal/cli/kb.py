"""portal kb …: articles from tickets, publishing, site builds, and a check of every article."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portal.accounts import service as accounts
from portal.cli.common import columns, console, database, err_console, handle_errors, operator, say

kb_app = typer.Typer(help="Knowledge base: articles and the site.", no_args_is_help=True)


def _actor(session, username: str | None):
    """The writer the change is made as (commit author, their rights), or the operator at the console."""
    if not username:
        return operator()
    return accounts.get_user(session=session, username=username)


@kb_app.command("new")
@handle_errors
def new(
    from_ticket: str = typer.Option(..., "--from-ticket", help="ID of a resolved ticket, e.g. PRM-2026-00042"),
    kind: str = typer.Option("problem", "--kind", help="problem, known_issue, consultation or howto"),
    visibility: str | None = typer.Option(None, "--visibility",
                                          help="public, customers or internal (default: customers)"),
    as_user: str | None = typer.Option(None, "--as", help="Username of the writer (the commit's author)"),
):
    """Write a draft article from a resolved ticket through the template of its kind."""
    from portal.knowledge import service  # lazy: knowledge loads GitPython; kb commands only

    db = database()
    with db.session_scope() as session:
        article = service.create_from_ticket(session=session, settings=db.settings,
                                             actor=_actor(session, as_user), ticket_id=from_ticket, kind=kind,
                                             visibility=visibility)
    console.print(say("cli.kb.draft_written", slug=f"[bold]{article.slug}[/bold]", path=article.path,
                      commit=article.commit[:12]))
    console.print(say("cli.kb.edit_then_publish", url=f"{db.settings.base_url.rstrip('/')}/articles/{article.slug}/edit"))
    console.print(f"  portal kb publish {article.slug}", soft_wrap=True)


@kb_app.command("publish")
@handle_errors
def publish(slug: str, as_user: str | None = typer.Option(None, "--as", help="Username of the writer")):
    """Validate and publish an article; the site rebuilds in the background (or run `portal kb build`)."""
    from portal.knowledge import service  # lazy: knowledge loads GitPython; kb commands only

    db = database()
    with db.session_scope() as session:
        article = service.publish_article(session=session, settings=db.settings, actor=_actor(session, as_user),
                                          slug=slug)
    console.print(say("cli.kb.published", slug=f"[bold]{slug}[/bold]", commit=article.commit[:12]))


@kb_app.command("build")
@handle_errors
def build(
    edition: list[str] = typer.Option(None, "--edition", help="staff, customers or public (default: all)"),
    force: bool = typer.Option(True, "--force/--if-stale", help="Rebuild even when up to date"),
):
    """Build the site editions from the content repository's HEAD, with a progress bar."""
    from portal.knowledge import site  # lazy: kb commands only (site builds run MkDocs)

    db = database()
    editions = edition or list(site.EDITIONS)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(say("cli.kb.building"), total=len(editions) * 2)

        def advance(name: str, stage: str) -> None:
            progress.update(task, advance=1, description=f"{name}: {stage}")

        results = site.build(settings=db.settings, db=db, editions=editions, force=force, trigger="cli",
                             progress=advance)
        progress.update(task, completed=len(editions) * 2, description=say("cli.kb.done"))
    table = Table(*columns("edition", "status", "commit", "pages", "seconds"))
    for r in results:
        table.add_row(r.edition, r.status, r.commit[:12], str(r.pages), f"{r.seconds:.1f}")
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        err_console.print(f"[red]{say('cli.kb.edition_failed', edition=r.edition)}[/red]\n{r.error}")
    if failed:
        raise typer.Exit(1)


@kb_app.command("export")
@handle_errors
def export(
    target: str = typer.Argument(..., help="A new or empty directory to write the static site into"),
    edition: str = typer.Option("public", "--edition", help="public, customers or staff"),
):
    """Export a built edition as a static site to host elsewhere, with Material's own Russian search."""
    from portal.knowledge import export as kb_export  # lazy: knowledge loads GitPython; kb commands only

    db = database(check=False)
    done = kb_export.export_edition(settings=db.settings, edition=edition, target=Path(target))
    console.print(say("cli.kb.exported", edition=f"[bold]{done.edition}[/bold]", pages=done.pages, files=done.files,
                      target=done.target))


@kb_app.command("check")
@handle_errors
def check():
    """Check the front matter, the file names and the internal links of every article at HEAD."""
    from portal.knowledge import service  # lazy: knowledge loads GitPython; kb commands only

    db = database(check=False)
    report = service.check(settings=db.settings)
    if not report.ok:
        err_console.print(f"[red]{say('cli.kb.problems', problems=len(report.problems), articles=report.articles)}[/red]")
        for problem in report.problems:
            err_console.print(f"{problem.path}: {problem.message}", soft_wrap=True, markup=False)
        raise typer.Exit(1)
    console.print(say("cli.kb.all_valid", articles=report.articles))
