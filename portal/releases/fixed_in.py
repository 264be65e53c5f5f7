"""What the knowledge base may say of a package that fixes an article's tickets (knowledge.feedback's lookup).

An article's ``fixed_in`` names packages whatever their entitlements; a reader learns of one only when the
policy lets them see it — staff always, a customer only when their organisation is entitled — and only once
it is published.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import policy
from portal.releases.models import Package, PackageStatus
from portal.releases.service import PACKAGE_ID_RE


def readable_published(session: Session, reader, package_ids: list[str]) -> list[dict[str, str]]:
    """The published packages among ``package_ids`` that ``reader`` may see, with the address of their page."""
    ids = [p for p in package_ids if PACKAGE_ID_RE.match(p or "")]
    if not ids:
        return []
    packages = session.scalars(select(Package).where(Package.id.in_(ids),
                                                     Package.status == PackageStatus.published.value))
    return [{"id": p.id, "title": p.title, "url": f"/packages/{quote(p.id, safe='')}"} for p in packages
            if policy.allows(reader, "package.view", p)]
