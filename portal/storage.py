"""The blob store's bookkeeping against the database: which blobs rows refer to, the sweep, the audit report.

Blobs are referred to by fix-package files, ticket attachments and the raw messages of e-mail intake. The
sweep removes temporary files nobody holds at once and unreferenced blobs after ``PORTAL_BLOB_GRACE_HOURS``;
``report()`` is what ``portal package verify`` prints besides re-hashing package files.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, blobs, policy
from portal.config import Settings

log = logging.getLogger("portal.storage")


def _columns():
    from portal.notify.models import IntakeMessage
    from portal.releases.models import PackageFile
    from portal.tickets.models import TicketAttachment

    return (PackageFile.sha256, TicketAttachment.sha256, IntakeMessage.raw_sha256)


def referenced(session: Session) -> set[str]:
    """Every blob some row refers to."""
    out: set[str] = set()
    for column in _columns():
        out.update(session.scalars(select(column).distinct()))
    return out


def is_referenced(session: Session, sha256: str) -> bool:
    return any(session.scalar(select(column).where(column == sha256).limit(1)) for column in _columns())


def sweep(*, settings: Settings, db, now: float | None = None) -> str:
    """Temporary files nobody holds, and blobs unreferenced for longer than the grace period."""
    store = blobs.blob_store(settings)
    temporary = store.sweep_temporary()
    with db.session_scope(write=False) as session:
        refs = referenced(session)
    grace = dt.timedelta(hours=settings.blob_grace_hours).total_seconds()
    orphans = store.sweep_orphans(referenced=refs, grace_seconds=grace)
    if orphans:
        actor = policy.SystemActor.job("blobs.sweep")
        policy.require(actor, "blobs.sweep")
        with db.session_scope() as session:
            audit.record(session, actor=actor, action="blobs.swept", object_type="blobs", object_id="orphans",
                         details={"removed": orphans, "grace_hours": settings.blob_grace_hours})
        log.info("removed %d unreferenced blobs older than %s h", len(orphans), settings.blob_grace_hours)
    return f"временных файлов удалено: {temporary}, блобов без ссылок удалено: {len(orphans)}"


@dataclass
class Report:
    """What ``portal package verify`` finds besides package files whose bytes changed."""

    orphan_blobs: list[tuple[str, int, float]] = field(default_factory=list)  # sha, size, age in hours
    orphan_temporary: list[tuple[Path, int]] = field(default_factory=list)  # path, size (nobody holds it)
    busy_temporary: list[Path] = field(default_factory=list)  # being written now
    missing: list[tuple[str, str]] = field(default_factory=list)  # (what refers to it, sha)


def report(*, settings: Settings, session: Session, now: float) -> Report:
    from portal.notify.models import IntakeMessage
    from portal.tickets.models import TicketAttachment

    store = blobs.blob_store(settings)
    out = Report()
    refs = referenced(session)
    stored = {}
    for sha, st in store.all_blobs():
        stored[sha] = st
        if sha not in refs:
            out.orphan_blobs.append((sha, st.st_size, max(0.0, (now - st.st_mtime) / 3600)))
    for path, held in store.temporary_files():
        if held:
            out.busy_temporary.append(path)
        else:
            try:
                out.orphan_temporary.append((path, path.stat().st_size))
            except FileNotFoundError:
                continue
    for a in session.scalars(select(TicketAttachment).order_by(TicketAttachment.id)):
        if a.sha256 not in stored:
            out.missing.append((f"вложение {a.id} заявки {a.ticket_id} «{a.filename}»", a.sha256))
    for m in session.scalars(select(IntakeMessage).order_by(IntakeMessage.id)):
        if m.raw_sha256 not in stored:
            out.missing.append((f"входящее письмо {m.id} «{m.subject[:60]}»", m.raw_sha256))
    return out
