"""«Исправлено в пакете …»: the one question every page asks before naming a package that fixes an article.

An article's ``fixed_in`` lists packages whatever their entitlements. The article page on /kb/
(``feedback.reader_view``) and search's hits (``search.service``) both name only the packages the reader may
know of — published, and visible to the reader by the policy (staff always, a customer when their organisation
is entitled). The releases domain answers through ``READABLE_PACKAGES`` (added by ``portal.wiring``; releases
sits above knowledge and search); with nothing added, no page names a package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from portal.registry import Registry

# fn(session, reader, package ids) -> [{"id", "title", "url"}]: the published packages among the ids that the
# reader may see. ``reader`` may be None (an anonymous reader of the public edition).
ReaderPackages = Callable[[Session, Any, list[str]], list[dict[str, str]]]
READABLE_PACKAGES: Registry[ReaderPackages] = Registry("knowledge.readable_packages")


def readable_packages(session: Session | None, reader, package_ids: list[str]) -> list[dict[str, str]]:
    """The packages among ``package_ids`` that ``reader`` may know of, in the order given, each once."""
    if session is None or not package_ids:
        return []
    found: dict[str, dict[str, str]] = {}
    for lookup in READABLE_PACKAGES:
        for package in lookup(session, reader, list(package_ids)):
            found.setdefault(package["id"], package)
    return [found[p] for p in dict.fromkeys(package_ids) if p in found]
