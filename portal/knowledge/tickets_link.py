"""Tickets and articles: the stage «база знаний обновлена» on publish, and the articles listed on a ticket page.

The tickets domain owns tickets; this module only calls its published interface
(``get_ticket``, ``record_event``, ``TICKET_PAGE_SECTIONS``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.errors import NotFound
from portal.knowledge.articles import Article
from portal.tickets import service as tickets

KB_UPDATED = "kb_updated"


def fetch_ticket(*, session: Session, ticket_id: str, actor):
    """The ticket as the actor may see it; the operator's CLI (no signed-in user) sees every ticket."""
    if isinstance(actor, User):
        return tickets.get_ticket(session=session, ticket_id=ticket_id, user=actor)
    return tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id)


def record_published(*, session: Session, actor, article: Article) -> list[str]:
    """Record «база знаний обновлена» on every ticket the published article cites; return their IDs."""
    if not article.meta.tickets:
        return []
    recorded = []
    for ticket_id in article.meta.tickets:
        try:
            ticket = fetch_ticket(session=session, ticket_id=ticket_id, actor=actor)
        except NotFound:
            continue  # an article may cite a ticket of another installation (imported content)
        tickets.record_event(session=session, ticket=ticket, actor=actor, kind=KB_UPDATED,
                             comment=f"Опубликована статья базы знаний «{article.title}»",
                             public=article.meta.visibility != "internal",
                             details={"slug": article.slug, "commit": article.commit,
                                      "visibility": article.meta.visibility})
        recorded.append(ticket_id)
    return recorded
