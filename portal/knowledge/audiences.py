"""Visibility → audiences → site editions: the one mapping every reader of articles asks.

The policy decides who may read what (``policy.reads``: an audience and a visibility). The knowledge base
only says which audience each site edition is built for. The site build, the ``/kb/`` pages, search, notify
and the ticket history all ask here, so an article reaches the same readers everywhere: a customer never
finds in search, in an e-mail or on a ticket what the customers edition leaves out.
"""

from __future__ import annotations

from portal import policy
from portal.i18n import message
from portal.knowledge import frontmatter

Audience = policy.Audience
VISIBILITIES = frontmatter.VISIBILITIES

# One edition per audience, each built from only what its audience may read.
EDITION_AUDIENCES: dict[str, Audience] = {
    "staff": Audience.staff,
    "customers": Audience.customers,
    "public": Audience.anonymous,
}
EDITION_NAMES = {edition: message(f"kb_labels.edition.{edition}") for edition in EDITION_AUDIENCES}


def visibilities(audience: Audience) -> frozenset[str]:
    """The visibilities an audience reads, by the policy."""
    return frozenset(v for v in VISIBILITIES if policy.reads(audience, v))


def edition_visibilities(edition: str) -> frozenset[str]:
    """The visibilities of the articles an edition carries."""
    return visibilities(EDITION_AUDIENCES[edition])


def editions_of(visibility: str) -> list[str]:
    """The editions that carry an article of this visibility."""
    return [e for e, audience in EDITION_AUDIENCES.items() if policy.reads(audience, visibility)]


def edition_for(reader, *, public_kb: bool) -> str | None:
    """The edition a reader is served; an anonymous reader gets the public one only when it is enabled."""
    audience = policy.audience(reader)
    if audience is Audience.anonymous and not public_kb:
        return None
    return next(e for e, a in EDITION_AUDIENCES.items() if a is audience)


def customers_read(visibility: str) -> bool:
    """Does a customer read an article of this visibility (its links in customers' messages, ticket events)?"""
    return policy.reads(Audience.customers, visibility)


def narrower(source: str, target: str) -> bool:
    """Does some reader of a ``source`` article not read a ``target`` one (a link from one to the other would
    lead them to a page missing from their edition)?"""
    return any(policy.reads(a, source) and not policy.reads(a, target) for a in Audience)
