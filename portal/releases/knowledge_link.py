"""Packages and the knowledge base: publishing a package records it in ``fixed_in`` of the published
articles that cite its tickets (one commit), so those articles show that the fix exists.

Only the knowledge base's published interface is used: front matter is read and written with
``portal.knowledge.frontmatter``, the catalogue with ``portal.knowledge.store``, and the change is
announced through ``portal.knowledge.hooks.articles_changed`` so search re-indexes.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from portal import audit, jobs
from portal.config import Settings
from portal.content import ContentRepo
from portal.knowledge import frontmatter, hooks, store

log = logging.getLogger("portal.releases")
BUILD_JOB = "kb.build"


def record_fixed_in(*, session: Session, settings: Settings, package, actor) -> list[str]:
    """Add the package to ``fixed_in`` of the published articles citing its tickets; the slugs changed."""
    tickets = set(package.ticket_ids)
    if not tickets:
        return []
    from portal.releases.service import _author

    content = ContentRepo(settings)
    with content.writing():
        changed: dict[str, str] = {}
        slugs: list[str] = []
        for entry in store.catalogue(content):
            meta = entry.meta
            if meta is None or meta.status != "published" or not tickets & set(meta.tickets):
                continue
            if package.id in meta.fixed_in:
                continue
            path = content.path / entry.path
            raw, body = frontmatter.split(path.read_text(encoding="utf-8"))
            fixed = [str(p) for p in (raw.get("fixed_in") or [])]
            raw["fixed_in"] = [*fixed, package.id]
            changed[entry.path] = frontmatter.join(raw, body)
            slugs.append(entry.slug)
        if not changed:
            return []
        commit = content.commit_files(
            files=changed, message=f"Пакет {package.id} исправляет заявки статей: {', '.join(slugs)}",
            author=_author(actor))
    audit.record(session, actor=actor, action="package.fixed_in", object_type="package", object_id=package.id,
                 details={"articles": slugs, "commit": commit})
    try:
        hooks.articles_changed(settings=settings, commit=commit, slugs=slugs)
    except Exception:  # the search index is derived and catches up from git; the commit stands
        log.exception("an articles_changed hook failed after fixed_in of %s", package.id)
    jobs.request_run(session, BUILD_JOB)
    return slugs
