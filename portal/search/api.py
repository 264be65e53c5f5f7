"""JSON API of search: ``GET /api/v1/search`` and ``GET /api/v1/search/suggest``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from portal.deps import DatabaseDep, OptionalUser, SessionDep, SettingsDep, client_ip, verify_csrf
from portal.search import query as sq
from portal.search import service, throttle


def anonymous_limit(request: Request, user: OptionalUser, settings: SettingsDep, db: DatabaseDep) -> None:
    """A reader who is not signed in asks at most ``PORTAL_ANONYMOUS_SEARCH_PER_MINUTE`` searches a minute."""
    if user is None and settings.public_kb:
        throttle.count_anonymous(db=db, settings=settings, address=client_ip(request))


router = APIRouter(prefix="/api/v1/search", tags=["search"],
                   dependencies=[Depends(verify_csrf), Depends(anonymous_limit)])

Text = Annotated[str, Query(max_length=sq.MAX_QUERY_CHARS)]
Filter = Annotated[str | None, Query(max_length=200)]


class FixedIn(BaseModel):
    id: str
    title: str


class SearchHitOut(BaseModel):
    slug: str
    title: str
    snippet: str  # HTML: article text escaped, matched words in <mark>
    score: float
    url: str
    module: str
    kind: str
    product_versions: list[str] = []
    fixed_in: list[FixedIn] = []


class FacetCount(BaseModel):
    value: str
    count: int


class RebuildingOut(BaseModel):
    done: int
    total: int


class SearchOut(BaseModel):
    total: int
    hits: list[SearchHitOut]
    facets: dict[str, list[FacetCount]]
    suggestion: str | None
    corrected: bool = False
    # Set while the index is rebuilt for a new schema and the old one cannot answer: article files read, of
    rebuilding: RebuildingOut | None = None


class SuggestionOut(BaseModel):
    slug: str
    title: str
    url: str


@router.get("", response_model=SearchOut, summary="Search the published knowledge base")
def search(
    user: OptionalUser, session: SessionDep, settings: SettingsDep, db: DatabaseDep,
    q: Text = "", module: Filter = None, kind: Filter = None, version: Filter = None, tag: Filter = None,
    sort: Literal["relevance", "date"] = "relevance",
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 10,
    offset: Annotated[int, Query(ge=0, le=service.MAX_OFFSET)] = 0,
    typing: Annotated[bool, Query(description="Asked while the query is still being typed: not logged")] = False,
) -> dict[str, Any]:
    results = service.search(session=session, settings=settings, user=user, q=q, module=module, kind=kind,
                             version=version, tag=tag, sort=sort, limit=limit, offset=offset)
    # The search log (a log, not a state change: no audit). A search box that answers as the reader types
    # (the /kb/ site's) asks with typing=true and once more without it when the reader stops, so «приори»
    # on the way to «приоритет» never becomes a search that found nothing.
    if offset == 0 and not typing and not results.page.rebuilding:  # no index yet is not a gap of the base
        service.log_later(db=db, q=q, hits=results.page.total, user=user)
    return results.as_dict()


@router.get("/suggest", response_model=list[SuggestionOut], summary="Articles matching what is being typed")
def suggest(user: OptionalUser, settings: SettingsDep, q: Text = "") -> list[dict[str, str]]:
    return service.suggest(settings=settings, user=user, q=q)
