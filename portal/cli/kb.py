"""portal kb …: articles from tickets, publishing, site builds, and a check of every article."""

from __future__ import annotations

import re

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portal.cli.common import CLI_ACTOR, console, database, err_console, handle_errors

kb_app = typer.Typer(help="Knowledge base: articles and the site.", no_args_is_help=True)
LINK_RE = re.compile(r"\]\(([^)\s]+?\.md)(?:#[^)]*)?\)")


def _actor(session, username: str | None):
    """The user the change is made as (commit author), or the CLI itself."""
    if not username:
        return CLI_ACTOR
    from portal.accounts import service as accounts

    return accounts.get_user(session=session, username=username)


@kb_app.command("new")
@handle_errors
def new(
    from_ticket: str = typer.Option(..., "--from-ticket", help="ID of a resolved ticket, e.g. PRM-2026-00042"),
    kind: str = typer.Option("problem", "--kind", help="problem, known_issue, consultation or howto"),
    visibility: str = typer.Option("customers", "--visibility", help="public, customers or internal"),
    as_user: str | None = typer.Option(None, "--as", help="Username of the writer (the commit's author)"),
):
    """Write a draft article from a resolved ticket through the template of its kind."""
    from portal.knowledge import service

    db = database()
    with db.session_scope() as session:
        article = service.create_from_ticket(session=session, settings=db.settings,
                                             actor=_actor(session, as_user), ticket_id=from_ticket, kind=kind,
                                             visibility=visibility)
    console.print(f"Draft [bold]{article.slug}[/bold] written to {article.path} (commit {article.commit[:12]}).")
    console.print(f"Edit it at {db.settings.base_url.rstrip('/')}/articles/{article.slug}/edit, "
                  f"then: portal kb publish {article.slug}")


@kb_app.command("publish")
@handle_errors
def publish(slug: str, as_user: str | None = typer.Option(None, "--as", help="Username of the writer")):
    """Validate and publish an article; the site rebuilds in the background (or run `portal kb build`)."""
    from portal.knowledge import service

    db = database()
    with db.session_scope() as session:
        article = service.publish_article(session=session, settings=db.settings, actor=_actor(session, as_user),
                                          slug=slug)
    console.print(f"Published [bold]{slug}[/bold] (commit {article.commit[:12]}).")


@kb_app.command("build")
@handle_errors
def build(
    edition: list[str] = typer.Option(None, "--edition", help="staff, customers or public (default: all)"),
    force: bool = typer.Option(True, "--force/--if-stale", help="Rebuild even when up to date"),
):
    """Build the site editions from the content repository's HEAD, with a progress bar."""
    from portal.knowledge import site

    db = database()
    editions = edition or list(site.EDITIONS)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("Сборка редакций сайта", total=len(editions) * 2)

        def advance(name: str, stage: str) -> None:
            progress.update(task, advance=1, description=f"{name}: {stage}")

        results = site.build(settings=db.settings, db=db, editions=editions, force=force, trigger="cli",
                             progress=advance)
        progress.update(task, completed=len(editions) * 2, description="Готово")
    table = Table("edition", "status", "commit", "pages", "seconds")
    for r in results:
        table.add_row(r.edition, r.status, r.commit[:12], str(r.pages), f"{r.seconds:.1f}")
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        err_console.print(f"[red]{r.edition} failed:[/red]\n{r.error}")
    if failed:
        raise typer.Exit(1)


@kb_app.command("check")
@handle_errors
def check():
    """Check the front matter and the internal links of every article at HEAD."""
    from portal.content import ContentRepo
    from portal.knowledge import articles, store

    db = database(check=False)
    content = ContentRepo(db.settings)
    entries = store.catalogue(content)
    with content.repo() as repo:
        listing = set(repo.git.ls_tree("-r", "--name-only", "--full-tree", "HEAD", "--", articles.KB_DIR)
                      .splitlines())
    problems: list[tuple[str, str]] = []
    visibility = {e.path: e.meta.visibility for e in entries if e.meta is not None}
    for entry in entries:
        if entry.meta is None:
            problems.append((entry.path, entry.error))
            continue
        text = store.read_text(content, entry.path)
        for target in LINK_RE.findall(text):
            if "://" in target:
                continue
            resolved = _resolve(entry.path, target)
            if resolved not in listing:
                problems.append((entry.path, f"ссылка на несуществующую статью: {target}"))
            elif _wider(entry.meta.visibility, visibility.get(resolved, "public")):
                problems.append((entry.path, f"ссылка {target} ведёт на статью с более узкой видимостью "
                                             f"({visibility[resolved]}); читатели этой статьи её не увидят"))
    for path in sorted(p for p in listing if p.endswith(".md") and articles.split_path(p) is None
                       and not p.endswith("index.md")):
        problems.append((path, "имя файла статьи: только строчные латинские буквы, цифры и дефис"))
    if problems:
        err_console.print(f"[red]{len(problems)} problem(s) in {len(entries)} articles:[/red]")
        for path, problem in problems:
            err_console.print(f"{path}: {problem}", soft_wrap=True, markup=False)
        raise typer.Exit(1)
    console.print(f"All {len(entries)} articles are valid; their internal links resolve.")


VISIBILITY_ORDER = {"public": 0, "customers": 1, "internal": 2}


def _wider(source: str, target: str) -> bool:
    return VISIBILITY_ORDER.get(source, 2) < VISIBILITY_ORDER.get(target, 2)


def _resolve(path: str, target: str) -> str:
    parts = path.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)

