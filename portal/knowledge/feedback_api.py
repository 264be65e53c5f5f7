"""Routes of the readers' side of an article (``feedback.py``): the JSON the /kb/ theme's script asks for, and the
writers' page of an article's votes, comments and searches. Included by ``api.py`` and ``pages.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from portal import web
from portal.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, verify_csrf
from portal.knowledge import feedback

api_router = APIRouter(tags=["knowledge"])
pages_router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie"}  # one reader's answer, never a shared cache's


class FixedInOut(BaseModel):
    id: str
    title: str
    url: str


class VoteOut(BaseModel):
    helpful: bool
    comment: str = ""


class ReaderViewOut(BaseModel):
    slug: str
    version: str = Field(description="The article's version (commit) a vote is counted for")
    can_vote: bool
    vote: VoteOut | None
    fixed_in: list[FixedInOut] = Field(description="Published packages fixing it that this reader may see")


class VoteIn(BaseModel):
    helpful: bool
    comment: str | None = Field(default=None, max_length=feedback.COMMENT_MAX)


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=feedback.QUERY_MAX)


@api_router.get("/kb/articles/{slug}/reader", response_model=ReaderViewOut,
                summary="This reader's view of a published article: their vote, the packages that fix it")
def reader_view(slug: str, user: OptionalUser, session: SessionDep, settings: SettingsDep):
    view = feedback.reader_view(session=session, settings=settings, reader=user, slug=slug)
    return JSONResponse(view.as_dict(), headers=NO_STORE)


@api_router.put("/kb/articles/{slug}/vote", response_model=ReaderViewOut,
                summary="“Was this article helpful?”: one answer per reader per version (again: replaces it)")
def vote(slug: str, body: VoteIn, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    view = feedback.vote(session=session, settings=settings, actor=user, slug=slug, helpful=body.helpful,
                         comment=body.comment)
    return JSONResponse(view.as_dict(), headers=NO_STORE)


@api_router.post("/kb/articles/{slug}/searches", status_code=204,
                 summary="The reader opened this article from the site's search box with this query")
def searched(slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep,
             body: Annotated[SearchIn, Body()]):
    feedback.record_search(session=session, settings=settings, reader=user, slug=slug, query=body.query)


@pages_router.get("/articles/{slug}/feedback")
def feedback_page(slug: str, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    data = feedback.article_feedback(session=session, settings=settings, actor=user, slug=slug)
    return web.render(request, "knowledge/feedback.html", {"fb": data})


@pages_router.get("/articles-feedback")
def unhelpful_page(request: Request, user: CurrentUser, session: SessionDep):
    rows = feedback.unhelpful_articles(session=session, actor=user, limit=100)
    return web.render(request, "knowledge/unhelpful.html", {"rows": rows, "days": feedback.UNHELPFUL_DAYS})
