"""JSON API of the knowledge base: articles (create, read, save, publish, archive, history, diff, restore),
the editor's preview, and the site builds."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from portal import policy, web
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, verify_csrf
from portal.errors import not_found
from portal.i18n import message
from portal.knowledge import feedback_api, render, service, site, site_api, store
from portal.knowledge.articles import Article
from portal.knowledge.schemas import (
    ArticleCreate,
    ArticleListItem,
    ArticleOut,
    ArticleUpdate,
    BuildOut,
    CommitOut,
    DiffOut,
    PreviewOut,
    PreviewRequest,
    RestoreRequest,
    VersionOut,
)

router = APIRouter(prefix="/api/v1", tags=["knowledge"], dependencies=[Depends(verify_csrf)])


def article_out(article: Article) -> dict:
    published = article.meta.status == "published"
    return {"slug": article.slug, "section": article.section, "path": article.path, "commit": article.commit,
            "front_matter": article.meta.as_dict(), "body": article.body,
            "url": article.url if published else None}


@router.get("/articles", response_model=list[ArticleListItem], summary="Articles at HEAD (writers see drafts too)")
def list_articles(user: CurrentUser, settings: SettingsDep, status: str | None = None):
    entries = service.list_articles(settings=settings, status=status)
    return [{"slug": e.slug, "section": e.section, "title": e.meta.title if e.meta else e.slug,
             "kind": e.meta.kind if e.meta else None, "visibility": e.meta.visibility if e.meta else None,
             "status": e.meta.status if e.meta else None, "tickets": e.meta.tickets if e.meta else [],
             "error": e.error} for e in entries if policy.allows(user, "article.read", e)]


@router.post("/articles", response_model=ArticleOut, status_code=201,
             summary="Create a draft: from a resolved ticket ({ticket_id, kind}) or from scratch")
def create_article(body: ArticleCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    if body.ticket_id:
        policy.require(user, "article.from_ticket")
        article = service.create_from_ticket(session=session, settings=settings, actor=user,
                                             ticket_id=body.ticket_id, kind=body.kind,
                                             visibility=body.visibility, section=body.section)
    else:
        policy.require(user, "article.write")
        meta = body.model_dump(exclude={"ticket_id", "body", "section", "slug"}, exclude_none=True)
        article = service.create_article(session=session, settings=settings, actor=user, front_matter=meta,
                                         body=body.body, section=body.section, slug=body.slug)
    return article_out(article)


@router.post("/articles/preview", response_model=PreviewOut, summary="Render Markdown as the site would")
def preview(body: PreviewRequest, user: CurrentUser, settings: SettingsDep):
    policy.require(user, "article.write")
    return {"html": str(render.article_html(settings=settings, body=body.body, strict=True))}


@router.get("/articles/{slug}", response_model=ArticleOut, summary="An article at HEAD with its commit")
def get_article(slug: str, user: CurrentUser, settings: SettingsDep):
    article = service.get_article(settings=settings, slug=slug)
    policy.require(user, "article.read", article, missing=not_found("article", slug))
    return article_out(article)


@router.put("/articles/{slug}", response_model=ArticleOut,
            summary="Save an edit; 409 with the difference when base_commit is outdated")
def save_article(slug: str, body: ArticleUpdate, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    policy.require(user, "article.write")
    article = service.save_article(session=session, settings=settings, actor=user, slug=slug, body=body.body,
                                   front_matter=body.front_matter, base_commit=body.base_commit)
    return article_out(article)


@router.post("/articles/{slug}/publish", response_model=CommitOut, summary="Validate, commit, index, rebuild")
def publish_article(slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    policy.require(user, "article.publish")
    article = service.publish_article(session=session, settings=settings, actor=user, slug=slug)
    return {"commit": article.commit, "slug": slug, "status": article.meta.status}


@router.post("/articles/{slug}/review", response_model=CommitOut, summary="Send to review (optional step)")
def review_article(slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    policy.require(user, "article.write")
    article = service.submit_for_review(session=session, settings=settings, actor=user, slug=slug)
    return {"commit": article.commit, "slug": slug, "status": article.meta.status}


@router.post("/articles/{slug}/archive", response_model=CommitOut, summary="Archive: removed from the site")
def archive_article(slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    policy.require(user, "article.publish")
    article = service.archive_article(session=session, settings=settings, actor=user, slug=slug)
    return {"commit": article.commit, "slug": slug, "status": article.meta.status}


@router.get("/articles/{slug}/history", response_model=list[VersionOut], summary="Versions, newest first")
def article_history(slug: str, user: CurrentUser, settings: SettingsDep):
    policy.require(user, "article.write")
    return [v.__dict__ for v in service.history(settings=settings, slug=slug)]


@router.get("/articles/{slug}/diff", response_model=DiffOut, summary="Difference between two versions")
def article_diff(slug: str, user: CurrentUser, settings: SettingsDep,
                 from_commit: str = Query(alias="from", max_length=40),
                 to_commit: str = Query(alias="to", max_length=40)):
    policy.require(user, "article.write")
    text = service.diff(settings=settings, slug=slug, from_commit=from_commit, to_commit=to_commit)
    return {"from_commit": store.check_commit(from_commit), "to_commit": store.check_commit(to_commit), "diff": text}


@router.post("/articles/{slug}/restore", response_model=ArticleOut, summary="Restore an older version (new commit)")
def restore_article(slug: str, body: RestoreRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    policy.require(user, "article.write")
    return article_out(service.restore_version(session=session, settings=settings, actor=user, slug=slug,
                                               commit=body.commit))


@router.get("/kb/builds", response_model=list[BuildOut], summary="The newest build of each site edition")
def builds(user: CurrentUser, session: SessionDep):
    policy.require(user, "kb.build")
    return [row for row in site.states(session).values() if row is not None]


@router.post("/kb/build", status_code=202, summary="Ask for a rebuild of the site editions in the background")
def request_build(request: Request, user: CurrentUser, session: SessionDep, db: DatabaseDep):
    policy.require(user, "kb.build")
    service.request_build(session=session, actor=user)
    return {"detail": message("kb_labels.build_requested").in_language(web.language(request))}


# The readers' side of an article on /kb/ (votes, «Исправлено в пакете …», searches that led there).
router.include_router(feedback_api.api_router)
router.include_router(site_api.router)  # is an article live in each edition (the article page polls it)
