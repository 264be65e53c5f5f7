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

from portal.cli.common import console, handle_errors, settings

search_app = typer.Typer(help="The knowledge-base search index.", no_args_is_help=True)


@search_app.command("rebuild")
@handle_errors
def rebuild():
    """Index every published article of the content repository's HEAD, then swap the new index in."""
    from portal.search import service  # lazy: Whoosh is loaded by the search commands only

    s = settings()
    with Progress(TextColumn("[bold]Indexing articles"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task("index", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        meta = service.rebuild(settings=s, progress=progress)
    console.print(f"✓ {meta['articles']} published articles of {meta['files']} files indexed at commit "
                  f"{meta['commit'][:10]} in {meta['build_seconds']:.1f} s ({meta['where']})")


@search_app.command("status")
@handle_errors
def status():
    """Which backend holds the index and where, which commit it reflects and how big it is."""
    from portal.search import service  # lazy: Whoosh is loaded by the search commands only

    info = service.status(settings=settings())
    if not info:
        console.print("No search index yet: it is built on the first search or by `portal search rebuild`.")
        return
    table = Table("field", "value")
    for key in ("backend", "where", "commit", "mode", "articles", "bytes", "build_seconds"):
        table.add_row(key, str(info.get(key, "")))
    console.print(table)
