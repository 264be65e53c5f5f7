"""The blob store's bookkeeping against the database: which blobs rows refer to, the sweep, the audit report.

Blobs are referred to by rows of the domains — fix-package files, ticket attachments, the raw messages of
e-mail intake. This module sits in the core and imports no domain: each domain declares its columns as a
``BlobReference`` and the wiring adds them to ``REFERENCES``; a blob no registered column names is an
orphan. The sweep removes temporary files nobody holds at once and unreferenced blobs after ``PORTAL_BLOB_GRACE_HOURS``;
``report()`` is what ``portal package verify`` prints besides re-hashing package files.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal import audit, blobs, policy
from portal.config import Settings
from portal.i18n import message
from portal.registry import Registry

log = logging.getLogger("portal.storage")


@dataclass(frozen=True)
class BlobReference:
    """A column whose value is the SHA-256 of a blob the row needs.

    ``describe`` yields (how a person finds the row, its SHA-256) for every row, so the audit report can name
    those whose blob is missing; it is left out where another check covers the rows (package files are
    re-hashed by ``portal package verify`` itself).
    """

    name: str
    column: InstrumentedAttribute[str]
    describe: Callable[[Session], Iterable[tuple[str, str]]] | None = None


REFERENCES: Registry[BlobReference] = Registry("storage.references", key=lambda ref: ref.name)


def _references() -> list[BlobReference]:
    # Unwired, every blob would look unreferenced and the sweep would remove them all: refuse instead.
    if not len(REFERENCES):
        raise RuntimeError("storage.REFERENCES is empty: call portal.wiring.wire() before touching blobs")
    return list(REFERENCES)


def referenced(session: Session) -> set[str]:
    """Every blob some row refers to."""
    out: set[str] = set()
    for ref in _references():
        out.update(session.scalars(select(ref.column).distinct()))
    return out


def is_referenced(session: Session, sha256: str) -> bool:
    return any(session.scalar(select(ref.column).where(ref.column == sha256).limit(1)) for ref in _references())


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
    # kept as the Russian words (a job's report); a reader of another language gets them reworded
    return str(message("job_report.swept", temporary=temporary, orphans=len(orphans)))


@dataclass
class Report:
    """What ``portal package verify`` finds besides package files whose bytes changed."""

    orphan_blobs: list[tuple[str, int, float]] = field(default_factory=list)  # sha, size, age in hours
    orphan_temporary: list[tuple[str, int]] = field(default_factory=list)  # name, size (nobody holds it)
    busy_temporary: list[str] = field(default_factory=list)  # being written now
    missing: list[tuple[str, str]] = field(default_factory=list)  # (what refers to it, sha)


def report(*, settings: Settings, session: Session, now: float) -> Report:
    store = blobs.blob_store(settings)
    out = Report()
    refs = referenced(session)
    stored: set[str] = set()
    for sha, st in store.all_blobs():
        stored.add(sha)
        if sha not in refs:
            out.orphan_blobs.append((sha, st.st_size, max(0.0, (now - st.st_mtime) / 3600)))
    for temporary in store.temporary_files():
        if temporary.held:
            out.busy_temporary.append(temporary.name)
        else:
            out.orphan_temporary.append((temporary.name, temporary.size))
    for ref in _references():
        if ref.describe is not None:
            out.missing.extend((what, sha) for what, sha in ref.describe(session) if sha not in stored)
    return out
