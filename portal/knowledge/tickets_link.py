"""Tickets and articles: the stage «база знаний обновлена» on publish, and the articles listed on a ticket page.

The tickets domain owns tickets; this module only calls its published interface
(``get_ticket``, ``record_event``, ``TICKET_PAGE_SECTIONS``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal import intents
from portal.errors import NotFound
from portal.knowledge import audiences
from portal.knowledge.articles import Article
from portal.policy import Actor
from portal.tickets import service as tickets_service

KB_UPDATED = "kb_updated"


def fetch_ticket(*, session: Session, ticket_id: str, actor: Actor):
    """The ticket as the actor may see it (the operator's command line sees every ticket, as an admin)."""
    return tickets_service.get_ticket(session=session, ticket_id=ticket_id, user=actor)


def record_published(*, session: Session, actor, article: Article) -> list[str]:
    """Record «база знаний обновлена» on every ticket the published article cites; return their IDs."""
    return record_stage(session=session, actor=actor, tickets=article.meta.tickets, title=article.title,
                        slug=article.slug, commit=article.commit, visibility=article.meta.visibility)


def stage_effect(article: Article) -> dict:
    """The publish intent's effect that records the stage (applied once, after the commit, or on recovery)."""
    return {"type": "kb.ticket_stage", "tickets": list(article.meta.tickets), "title": article.title,
            "slug": article.slug, "visibility": article.meta.visibility}


def _apply_stage(session: Session, ctx: intents.EffectContext, eff: dict) -> None:
    record_stage(session=session, actor=ctx.actor, tickets=eff["tickets"], title=eff["title"], slug=eff["slug"],
                 commit=ctx.commit, visibility=eff["visibility"])


# Added to portal.intents.EFFECTS by portal.wiring.
STAGE_EFFECT = intents.Effect("kb.ticket_stage", _apply_stage)


def record_stage(*, session: Session, actor, tickets: list[str], title: str, slug: str, commit: str,
                 visibility: str) -> list[str]:
    recorded = []
    for ticket_id in tickets:
        try:
            ticket = fetch_ticket(session=session, ticket_id=ticket_id, actor=actor)
        except NotFound:
            continue  # an article may cite a ticket of another installation (imported content)
        tickets_service.record_event(session=session, ticket=ticket, actor=actor, kind=KB_UPDATED,
                                     comment=f"Опубликована статья базы знаний «{title}»",
                                     public=audiences.customers_read(visibility),
                                     details={"slug": slug, "commit": commit, "visibility": visibility})
        recorded.append(ticket_id)
    return recorded
