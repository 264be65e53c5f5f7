"""``portal search``: rebuild the index from git, show its state."""

from __future__ import annotations

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from portal.cli.common import columns, console, handle_errors, say, settings

search_app = typer.Typer(help="The knowledge-base search index.", no_args_is_help=True)


@search_app.command("rebuild")
@handle_errors
def rebuild(tickets: bool = typer.Option(False, "--tickets", help="Rebuild the ticket index (similar tickets, "
                                         "duplicates at filing) from the database instead")):
    """Index every published article of the content repository's HEAD, then swap the new index in."""
    from portal.search import service  # lazy: Whoosh is loaded by the search commands only

    s = settings()
    if tickets:
        _rebuild_tickets(s)
        return
    with Progress(TextColumn(f"[bold]{say('cli.search.indexing_articles')}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task("index", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        meta = service.rebuild(settings=s, progress=progress)
    console.print(say("cli.search.rebuilt", articles=meta["articles"], files=meta["files"], commit=meta["commit"][:10],
                      seconds=f"{meta['build_seconds']:.1f}", where=meta["where"]))


def _rebuild_tickets(s) -> None:
    from portal.search.similar import service as similar

    with Progress(TextColumn(f"[bold]{say('cli.search.indexing_tickets')}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task("index", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        meta = similar.rebuild(settings=s, progress=progress)
    console.print(say("cli.search.tickets_rebuilt", tickets=meta.get("tickets", 0),
                      seconds=f"{meta.get('build_seconds', 0):.1f}", where=meta.get("where")))


@search_app.command("status")
@handle_errors
def status():
    """Which backend holds the index and where, which commit it reflects and how big it is."""
    from portal.search import service  # lazy: Whoosh is loaded by the search commands only

    from portal.search.similar import service as similar

    s = settings()
    tickets = similar.info(settings=s)
    if tickets:
        console.print(say("cli.search.tickets_status", tickets=tickets.get("tickets", 0),
                          watermark=tickets.get("watermark", ""), backend=tickets.get("backend"),
                          where=tickets.get("where")))
    else:
        console.print(say("cli.search.no_ticket_index"))
    info = service.status(settings=s)
    if not info:
        console.print(say("cli.search.no_index"))
        return
    table = Table(*columns("field", "value"))
    for key in ("backend", "where", "commit", "mode", "articles", "bytes", "build_seconds"):
        table.add_row(key, str(info.get(key, "")))
    console.print(table)
