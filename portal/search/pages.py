"""Pages of search: ``/search`` with filters, and the writers' page of queries that found nothing."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from portal import web
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, verify_csrf
from portal.errors import Invalid
from portal.search import query as sq
from portal.search import service

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

PAGE_SIZE = 10
FILTERS = ("module", "kind", "version", "tag")


@router.get("/search")
def search_page(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, db: DatabaseDep,
    q: Annotated[str, Query(max_length=sq.MAX_QUERY_CHARS)] = "",
    module: Annotated[str, Query(max_length=200)] = "", kind: Annotated[str, Query(max_length=200)] = "",
    version: Annotated[str, Query(max_length=200)] = "", tag: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=20)] = "relevance",
    page: Annotated[int, Query(ge=1, le=service.MAX_OFFSET // PAGE_SIZE)] = 1,
):
    sort = sort if sort in service.SORTS else "relevance"
    filters = {"module": module, "kind": kind, "version": version, "tag": tag}
    results = error = None
    try:
        results = service.search(session=session, settings=settings, user=user, q=q, sort=sort,
                                 limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
    except Invalid as exc:
        error = exc.detail
    # a search answered "being rebuilt" found nothing for want of an index, not of an article: not a gap
    if results is not None and page == 1 and (q.strip() or any(filters.values())) and not results.page.rebuilding:
        service.log_later(db=db, q=q, hits=results.page.total, user=user)
    base = {"q": q, "sort": sort, **{k: v for k, v in filters.items() if v}}

    def link(**changes) -> str:
        params = {**base, **changes}
        return "/search?" + urlencode({k: v for k, v in params.items() if v not in (None, "", 1)})

    return web.render(request, "search/results.html", {
        "q": q, "filters": filters, "sort": sort, "page": page, "results": results, "error": error,
        "link": link, "page_size": PAGE_SIZE,
    }, status_code=422 if error else 200)


@router.get("/insights/search")
def insights_page(request: Request, user: CurrentUser, session: SessionDep,
                  days: Annotated[int, Query(ge=1, le=365)] = 30):
    gaps = service.zero_hit_queries(session=session, user=user, days=days)
    return web.render(request, "search/insights.html", {"gaps": gaps, "days": days})
