"""JSON of the site builds for the writers' pages: is an article live in each edition yet (the article page
polls it after a publish, ``static/kb-live.js``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from portal import i18n, policy, web
from portal.deps import CurrentUser, SessionDep, SettingsDep
from portal.errors import not_found
from portal.knowledge import service, site_status

router = APIRouter(tags=["knowledge"])


@router.get("/kb/articles/{slug}/live", summary="Whether the article's latest version is served in each edition")
def article_live(request: Request, slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> dict:
    article = service.get_article(settings=settings, slug=slug)
    policy.require(user, "article.read", article, missing=not_found("article", slug))
    return i18n.in_language(site_status.article_live(session, settings, article), web.language(request))
