"""Packages and the knowledge base: publishing a package records it in ``fixed_in`` of the published
articles that cite its tickets — in the same commit as the package's manifest, so that both happen or
neither does, under the publish's durable intent (``portal.intents``).

Only the knowledge base's published interface is used: front matter is read and written with
``portal.knowledge.frontmatter``, the catalogue with ``portal.knowledge.store``; the search index hears of
the change through the intent's ``reindex`` effect (``portal.knowledge.hooks.articles_changed``).
"""

from __future__ import annotations

import logging

from portal.content import ContentRepo
from portal.knowledge import frontmatter, store

log = logging.getLogger("portal.releases")


def fixed_in_changes(content: ContentRepo, package) -> tuple[dict[str, str], list[str]]:
    """The published articles citing the package's tickets, with the package added to ``fixed_in``:
    ({path: new text}, [slugs]). The caller holds the content write lock and commits them."""
    tickets = set(package.ticket_ids)
    if not tickets:
        return {}, []
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
    return changed, slugs


def fixed_in_effects(package, slugs: list[str]) -> list[dict]:
    """The database side of the ``fixed_in`` change: its audit row, the search index, a site build."""
    return [{"type": "audit", "action": "package.fixed_in", "object_type": "package", "object_id": package.id,
             "details": {"articles": slugs}},
            {"type": "reindex", "slugs": slugs}, {"type": "build"}]
