"""Which package replaces which: ``Package.supersedes_id``, checked when a package is made, read by the pages.

A package names at most one package it supersedes. The named one must exist, be another package, have been
published (a draft has no holders to tell), and the chain of replacements must not come back to the new one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.i18n import Message, message
from portal.releases.models import Package, PackageStatus

CHAIN_MAX = 1000  # a longer chain of replacements than any real product has: stop walking rather than loop


def check(session: Session, *, package_id: str, supersedes: str) -> Message | None:
    """What is wrong with ``supersedes`` for the package ``package_id`` (None: it may supersede it)."""
    if not supersedes:
        return None
    if supersedes == package_id:
        return message("notices.supersedes_itself")
    old = session.get(Package, supersedes)
    if old is None:
        return message("notices.supersedes_unknown", id=supersedes)
    if old.status == PackageStatus.draft:
        return message("notices.supersedes_draft", id=supersedes)
    seen = {package_id}
    current: Package | None = old
    for _ in range(CHAIN_MAX):
        if current is None:
            return None
        if current.id in seen:
            return message("notices.supersedes_cycle", id=supersedes, loop=current.id)
        seen.add(current.id)
        current = session.get(Package, current.supersedes_id) if current.supersedes_id else None
    return message("notices.supersedes_cycle", id=supersedes, loop=supersedes)


def replacements(session: Session, *, package: Package, published_only: bool = True) -> list[Package]:
    """The packages that declare they supersede ``package``, newest first (published ones unless asked)."""
    stmt = select(Package).where(Package.supersedes_id == package.id)
    if published_only:
        stmt = stmt.where(Package.status == PackageStatus.published.value)
    return list(session.scalars(stmt.order_by(Package.published_at.desc(), Package.id)))


def current_replacement(session: Session, *, package: Package) -> Package | None:
    """What to install instead of ``package``: its newest published replacement, if it has one."""
    found = replacements(session, package=package)
    return found[0] if found else None
