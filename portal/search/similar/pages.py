"""The ticket index on pages and in the API: the staff ticket page's similar solved tickets, their API, and the
duplicate lookup the new-ticket form asks while a customer types."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from portal import policy
from portal.deps import CurrentUser, SessionDep, SettingsDep, verify_csrf
from portal.search.similar import service
from portal.search.similar.documents import TicketText
from portal.tickets import steps

router = APIRouter(prefix="/api/v1/similar", tags=["search"], dependencies=[Depends(verify_csrf)])

TYPED_MAX = 4000  # of the description the form sends: enough to tell a duplicate, short enough for a URL


def _resolution_step(ticket, user) -> str | None:
    """The step of this ticket that takes a solution, when the reader may take it now (its form is prefilled)."""
    for step in steps.offered(ticket, user):
        if "solution" in step.fields:
            return step.name
    return None


def ticket_page_section(request: Request, session, user, ticket) -> tuple[str, dict] | None:
    """Tickets' TICKET_PAGE_SECTIONS: similar solved tickets, for the staff who work tickets (never a customer)."""
    if not policy.allows(user, "ticket.queue"):
        return None
    found = service.similar_solved(session=session, settings=request.app.state.settings, user=user,
                                   ticket_id=ticket.id)
    return "search/_similar_tickets.html", {"similar": found, "similar_step": _resolution_step(ticket, user),
                                            "similar_ticket": ticket}


# --- the API ----------------------------------------------------------------------------------------------

class ArticleOut(BaseModel):
    slug: str
    title: str
    url: str


class PackageOut(BaseModel):
    id: str
    title: str


class SimilarTicketOut(BaseModel):
    id: str
    summary: str
    status: str
    module: str
    product_version: str
    score: float  # orders the list; its scale is the backend's own
    likeness: float  # 0–1, the same on every backend: the share of this ticket's telling words the other holds
    cause: str  # as typed (Markdown): render or escape before showing
    solution: str
    workaround: str
    articles: list[ArticleOut] = []
    packages: list[PackageOut] = []


class DuplicateOut(BaseModel):
    id: str
    summary: str
    status: str
    url: str
    comment_url: str


def similar_out(found: service.SolvedTicket) -> dict[str, Any]:
    t = found.ticket
    return {"id": t.id, "summary": t.summary, "status": t.status, "module": t.module,
            "product_version": t.product_version, "score": found.score, "likeness": found.likeness, "cause": t.resolution_cause,
            "solution": t.resolution_solution, "workaround": t.resolution_workaround,
            "articles": [{"slug": e.slug, "title": e.meta.title, "url": e.url} for e in found.articles],
            "packages": [{"id": p.id, "title": p.title} for p in found.packages]}


@router.get("/tickets/{ticket_id}", response_model=list[SimilarTicketOut],
            summary="Resolved or closed tickets most like this one (staff who work tickets)")
def similar_tickets(ticket_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = service.SOLVED_LIMIT) -> list[dict]:
    return [similar_out(f) for f in service.similar_solved(session=session, settings=settings, user=user,
                                                           ticket_id=ticket_id, limit=limit)]


@router.get("/duplicates", response_model=list[DuplicateOut],
            summary="Open tickets of the reader's own organisation like the ticket being typed")
def duplicates(user: CurrentUser, session: SessionDep, settings: SettingsDep,
               summary: Annotated[str, Query(max_length=300)] = "",
               description: Annotated[str, Query(max_length=TYPED_MAX)] = "",
               module: Annotated[str, Query(max_length=120)] = "") -> list[dict]:
    found = service.duplicates_for(session=session, settings=settings, user=user,
                                   text=TicketText(summary=summary, description=description, module=module))
    return [{"id": t.id, "summary": t.summary, "status": t.status, "url": f"/tickets/{t.id}",
             "comment_url": f"/tickets/{t.id}#reply"} for t in found]
