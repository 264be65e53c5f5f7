"""Tickets and articles: the stage «база знаний обновлена» on publish, and the articles listed on a ticket page.

The tickets domain owns tickets; this module only calls its published interface
(``get_ticket``, ``record_event``, ``TICKET_PAGE_SECTIONS``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import intents, policy
from portal.config import Settings
from portal.content import ContentRepo
from portal.errors import NotFound
from portal.knowledge import audiences, store
from portal.knowledge.articles import Article
from portal.policy import Actor
from portal.tickets import service as tickets_service
from portal.tickets.models import Ticket

KB_UPDATED = "kb_updated"
RESOLVED_STATUSES = ("resolved", "closed")  # the tickets an article is written from


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
                                     details={"slug": slug, "commit": commit, "visibility": visibility,
                                              "title": title})
        recorded.append(ticket_id)
    return recorded


@dataclass(frozen=True)
class AwaitingArticle:
    """A resolved ticket no published article cites yet; ``draft`` is an unpublished article that does."""

    ticket_id: str
    summary: str
    kind: str
    resolved_at: dt.datetime | None
    draft: store.Entry | None


ARTICLE_KIND_OF_TICKET = {"problem": "problem", "consultation": "consultation"}  # others: a problem's article


def awaiting_articles(*, session: Session, settings: Settings, actor: Actor,
                      limit: int = 10) -> tuple[list[AwaitingArticle], int]:
    """Resolved (and closed) tickets without a published article, oldest resolution first, and how many there
    are: the writers' queue. A ticket leaves it when an article citing it is published."""
    policy.require(actor, "article.write")
    published: set[str] = set()
    drafts: dict[str, store.Entry] = {}
    for entry in store.catalogue(ContentRepo(settings)):
        if entry.meta is None:
            continue
        for ticket_id in entry.meta.tickets:
            if entry.meta.status == "published":
                published.add(ticket_id.upper())
            elif entry.meta.status in ("draft", "review"):
                drafts.setdefault(ticket_id.upper(), entry)
    rows = session.execute(
        select(Ticket.id, Ticket.summary, Ticket.kind, Ticket.resolved_at)
        .where(Ticket.status.in_(RESOLVED_STATUSES))
        .order_by(Ticket.resolved_at.is_(None), Ticket.resolved_at, Ticket.id)).all()
    waiting = [row for row in rows if row.id not in published]
    return [AwaitingArticle(ticket_id=row.id, summary=row.summary,
                            kind=ARTICLE_KIND_OF_TICKET.get(row.kind, "problem"), resolved_at=row.resolved_at,
                            draft=drafts.get(row.id)) for row in waiting[:limit]], len(waiting)
