"""portal package … — fix packages from the operator's shell, over the same services the web uses."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy import select

from portal import audit, blobs, storage
from portal.cli.common import (
    code_words,
    columns,
    console,
    database,
    err_console,
    handle_errors,
    operator,
    say,
)
from portal.db import utcnow

package_app = typer.Typer(help="Fix packages: upload, publish, withdraw, verify stored files.", no_args_is_help=True)


class _Counting:
    """A file wrapper that advances a progress bar as the blob store reads it."""

    def __init__(self, f, progress: Progress, task):
        self.f, self.progress, self.task = f, progress, task

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.progress.advance(self.task, len(chunk))
        return chunk


@package_app.command("upload")
@handle_errors
def upload(
    files: list[Path] = typer.Argument(..., help="Files of the package", exists=True, dir_okay=False, readable=True),
    package_id: str = typer.Option(..., "--id", help="Package ID: product and version, e.g. primoart-5.2.1-hf3"),
    title: str = typer.Option(..., "--title", help="Title, e.g. «Исправление выгрузки отчётов»"),
    version: str = typer.Option(..., "--version", help="Package version, e.g. 5.2.1-hf3"),
    ticket: list[str] = typer.Option([], "--ticket", help="Ticket ID this package fixes (repeat)"),
    org: list[str] = typer.Option([], "--org", help="Further organisation slug, or `all` (repeat)"),
    product_version: list[str] = typer.Option([], "--product-version", help="Target product version (repeat)"),
    module: list[str] = typer.Option([], "--module", help="Product module (repeat)"),
    notes_file: Path | None = typer.Option(None, "--notes", help="Release notes (Markdown); default: the template"),
    supersedes: str = typer.Option("", "--supersedes", help="ID of the published package this one replaces: "
                                                            "publishing tells the organisations that received it"),
    publish: bool = typer.Option(False, "--publish", help="Publish right after the upload"),
):
    """Upload files as a draft package (with a progress bar); --publish publishes it too."""
    from portal.releases import service  # lazy: releases loads knowledge and GitPython; package commands only

    db = database()
    settings = db.settings
    staged: list[service.StagedFile] = []
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      TimeRemainingColumn(), console=console) as progress:
            for path in files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                with path.open("rb") as f:
                    staged.append(service.stage_file(settings=settings, name=path.name,
                                                     stream=_Counting(f, progress, task)))
        notes = notes_file.read_text(encoding="utf-8") if notes_file else ""
    except BaseException:  # a file failed half-way (or Ctrl+C): the files already stored go again
        with db.session_scope(write=False) as session:
            service.discard_staged(session=session, settings=settings, staged=staged)
        raise
    data = service.PackageInput(
        id=package_id, title=title, version=version, product_versions=service.split_list(product_version),
        modules=service.split_list(module), ticket_ids=service.split_list(ticket),
        organizations=service.split_list(org), notes=notes, supersedes=supersedes)
    with db.session_scope() as session:
        package = service.upload_package(session=session, settings=settings, actor=operator(), data=data,
                                         files=staged, publish=publish)
        status = package.status
    table = Table(*columns("file", "size"), "SHA-256")
    for item in staged:
        table.add_row(item.name, str(item.size), item.sha256)
    console.print(table)
    console.print(say("cli.package.stored", id=f"[bold]{package_id}[/bold]",
                      status=code_words("package_status.", status)))


@package_app.command("list")
@handle_errors
def list_packages(status: str | None = typer.Option(None, "--status", help="draft, published or withdrawn")):
    """List packages, newest first."""
    from portal.releases.models import Package  # lazy: the releases domain is loaded by package commands only

    db = database()
    with db.session_scope(write=False) as session:
        stmt = select(Package).order_by(Package.created_at.desc())
        if status:
            stmt = stmt.where(Package.status == status)
        table = Table("ID", *columns("title", "status", "files", "tickets", "published"))
        for p in session.scalars(stmt):
            table.add_row(p.id, p.title, code_words("package_status.", p.status), str(len(p.files)),
                          ", ".join(p.ticket_ids),
                          p.published_at.strftime("%Y-%m-%d %H:%M") if p.published_at else "")
        console.print(table)


@package_app.command("publish")
@handle_errors
def publish_cmd(package_id: str):
    """Publish a draft package: deliveries for each entitled organisation, manifest committed."""
    from portal.releases import service  # lazy: releases loads knowledge and GitPython; package commands only

    db = database()
    with db.session_scope() as session:
        package = service.publish_package(session=session, settings=db.settings, actor=operator(),
                                          package_id=package_id)
        console.print(say("cli.package.published", id=f"[bold]{package.id}[/bold]",
                          commit=package.manifest_commit[:10]))


@package_app.command("withdraw")
@handle_errors
def withdraw_cmd(package_id: str, reason: str = typer.Option(..., "--reason", help="Shown to the customers")):
    """Withdraw a published package; downloads stop."""
    from portal.releases import deliveries, service  # lazy: package commands only (GitPython)

    db = database()
    with db.session_scope() as session:
        package = service.withdraw_package(session=session, settings=db.settings, actor=operator(),
                                           package_id=package_id, reason=reason)
        received = deliveries.received_by(session=session, package=package)
        console.print(say("cli.package.withdrawn", id=f"[bold]{package.id}[/bold]"))
        for d in received:
            console.print(say("cli.package.already_had", slug=d.organization.slug, name=d.organization.name,
                              status=code_words("delivery_status.", d.status)))


@package_app.command("verify")
@handle_errors
def verify_cmd():
    """Re-hash every package file (stop serving changed ones); report missing files, orphan blobs and leftover
    temporary files of uploads; check every package's chain of delivery-ledger events and name the first edited or
    deleted row. Exit code 1 when anything is wrong."""
    import time

    from portal.releases.models import PackageFile  # lazy: package commands only

    db = database()
    settings = db.settings
    store = blobs.blob_store(settings)
    corrupt = missing = 0
    with db.session_scope() as session:
        files = list(session.scalars(select(PackageFile).order_by(PackageFile.package_id, PackageFile.id)))
        checked: dict[str, bool] = {}
        for f in files:
            if f.sha256 not in checked:
                checked[f.sha256] = store.verify(f.sha256)
            if checked[f.sha256]:
                f.verified_stat = store.stat_key(f.sha256) or ""
                if f.corrupt_at is not None:  # restored from a backup: serve it again
                    f.corrupt_at = None
                    console.print(say("cli.verify.restored", file=f"{f.package_id}/{f.name}"))
                continue
            absent = not store.exists(f.sha256)
            if absent:
                missing += 1
                err_console.print(f"[red]{say('cli.verify.missing_tag')}[/red] "
                                  + say("cli.verify.missing", file=f"{f.package_id}/{f.name}", sha=f.sha256))
            else:
                corrupt += 1
                err_console.print(f"[red]{say('cli.verify.corrupt_tag')}[/red] "
                                  + say("cli.verify.corrupt", file=f"{f.package_id}/{f.name}", sha=f.sha256))
            if f.corrupt_at is None:
                f.corrupt_at = utcnow()
                audit.record(session, actor=operator(), action="package.file_corrupt", object_type="package",
                             object_id=f.package_id, details={"file": f.name, "sha256": f.sha256, "missing": absent})
        found = storage.report(settings=settings, session=session, now=time.time())
    for what, sha in found.missing:
        missing += 1
        err_console.print(f"[red]{say('cli.verify.missing_tag')}[/red] " + say("cli.verify.missing", file=what, sha=sha))
    for sha, size, age in found.orphan_blobs:
        err_console.print(f"[yellow]{say('cli.verify.orphan_tag')}[/yellow] "
                          + say("cli.verify.orphan", sha=sha, size=size, age=f"{age:.1f}",
                                grace=f"{settings.blob_grace_hours:g}"))
    for path, size in found.orphan_temporary:
        err_console.print(f"[yellow]{say('cli.verify.temporary_tag')}[/yellow] "
                          + say("cli.verify.temporary", path=path, size=size))
    for path in found.busy_temporary:
        console.print(say("cli.verify.busy", path=path))
    broken_chains, ledger_events = _verify_ledger(db)
    console.print(say("cli.verify.summary", files=len(files), blobs=len(checked), corrupt=corrupt, missing=missing,
                      orphans=len(found.orphan_blobs), temporary=len(found.orphan_temporary)))
    if corrupt or missing or found.orphan_blobs or found.orphan_temporary or broken_chains:
        raise typer.Exit(1)


def _verify_ledger(db) -> tuple[int, int]:
    """Walk every package's chain of delivery-ledger events; print the first broken row of each broken chain.
    Returns (broken chains, events in the ledger)."""
    from portal.i18n import message
    from portal.releases import ledger  # lazy: package commands only

    with db.session_scope(write=False) as session:
        breaks = list(ledger.verify(session))
        events = ledger.event_count(session)
    for found in breaks:
        err_console.print(f"[red]{message('ledger.verify_tag')}[/red] {found}")
    console.print(str(message("ledger.verify_summary", events=events, broken=len(breaks))))
    return len(breaks), events
