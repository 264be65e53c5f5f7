"""Pages of the knowledge base: the built site under /kb/, and the writers' pages under /articles."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from portal import i18n, policy, web
from portal.deps import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    CurrentUser,
    OptionalUser,
    SessionDep,
    SettingsDep,
    verify_csrf,
)
from portal.errors import Conflict, Invalid, NotFound, PortalError, not_found
from portal.knowledge import (
    articles,
    audiences,
    feedback,
    feedback_api,
    render,
    service,
    site,
    site_status,
    store,
    tickets_link,
)
from portal.registry import Registry

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

LIST_FIELDS = ("product_versions", "tickets", "fixed_in", "tags", "authors")


# --- the site ----------------------------------------------------------------------------------

def edition_for(user, settings) -> str | None:
    """The site edition a reader gets: staff, customers, or — anonymous — public when allowed."""
    return audiences.edition_for(user, public_kb=settings.public_kb)


def _site_file(root: Path, path: str) -> Path | None:
    """The file for a URL path inside an edition; None for anything outside it or missing."""
    if "\x00" in path:  # no file name holds NUL; resolve() would raise ValueError (a 500) on it
        return None
    base = root.resolve()
    target = (base / path.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        return None
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


# The built site's own CSP (no inline script runs there), set here so the portal-wide one does not replace it.
SITE_HEADERS = {"Content-Security-Policy": site.SITE_CSP}


@router.get("/kb")
def kb_root():
    return web.redirect("/kb/", status_code=307)


@router.get("/kb/{path:path}")
def kb_site(path: str, request: Request, user: OptionalUser, session: SessionDep, settings: SettingsDep):
    edition = edition_for(user, settings)
    if edition is None:
        return web.redirect(f"/login?next={quote(request.url.path)}")
    root = site.edition_dir(settings, edition)
    if not (root / "index.html").exists():
        return web.render(request, "knowledge/not_built.html",
                          {"edition": edition, "build": site.latest(session, edition)}, status_code=503,
                          headers={"Retry-After": "30"})  # a portal page: the portal's own CSP
    found = _site_file(root, path)
    if found is None:
        not_found = root / "404.html"
        if not_found.exists():
            return FileResponse(not_found, status_code=404, media_type="text/html; charset=utf-8",
                                headers=SITE_HEADERS)
        raise NotFound(i18n.message("errors_kb_content.no_page"))
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type in ("application/json", "application/javascript"):
        media_type += "; charset=utf-8"
    return FileResponse(found, media_type=media_type, headers={"Cache-Control": "no-cache", **SITE_HEADERS})


# --- the portal's header on the site's pages -----------------------------------------------------------

HEADER_MARK = "primoart-support"  # header.js fills the region only from an answer that carries it


SITE_STRINGS_PREFIX = "kbsite."


def site_strings(lang: str) -> dict[str, str]:
    """The site's own words in the reader's language (kb_reader.yml's ``kbsite.*``): the built pages carry the
    Russian ones, the theme's scripts put these in their place (search box, votes, «Исправлено в пакете …»)."""
    return {key.removeprefix(SITE_STRINGS_PREFIX): text for key, text in i18n.catalogue(lang).items()
            if key.startswith(SITE_STRINGS_PREFIX)}


@router.get("/api/v1/me/header")
def site_header(request: Request, user: OptionalUser, page: Annotated[str, Query(max_length=2000)] = ""):
    """The portal's header for a page of /kb/, for this reader: the built pages are the same file for every
    reader of an edition, so the theme's script (theme/assets/javascripts/portal/header.js) asks for it."""
    lang = web.language(request)
    data: dict[str, Any] = {"portal": HEADER_MARK, "brand": "PrimoART · " + i18n.translate("app.support", lang),
                            "user": None, "nav": [], "can_create_ticket": False, "lang": lang,
                            "strings": site_strings(lang)}
    if user is None:
        target = page if page.startswith("/kb/") else "/kb/"
        data["login"] = {"url": f"/login?next={quote(target)}", "label": i18n.translate("kb.site_login", lang)}
    else:
        role = str(getattr(user.role, "value", user.role))
        label = f"{user.display_name} · {i18n.translate('role.' + role, lang)}"
        if user.organization is not None:
            label += f" · {user.organization.name}"
        data["user"] = {"label": label}
        data["menu_label"] = i18n.translate("nav.label", lang)
        data["nav"] = [{"label": i18n.translate(item.key, lang), "url": item.url, "current": item.url == "/kb/"}
                       for item in web.NAV if item.action is None or policy.allows(user, item.action)]
        data["logout"] = {"url": "/logout", "field": CSRF_FIELD, "token": web.csrf_token(request),
                          "label": i18n.translate("nav.logout", lang)}
        data["can_create_ticket"] = policy.allows(user, "ticket.create")
        data["csrf"] = {"header": CSRF_HEADER, "token": data["logout"]["token"]}  # the theme's votes, searches
    response = JSONResponse(data, headers={"Cache-Control": "no-store", "Vary": "Cookie"})
    if getattr(request.state, "csrf_nonce_new", False):  # sign-out needs the cookie its token was made for
        web.set_cookie(request, response, CSRF_COOKIE, request.state.csrf_nonce, samesite="strict")
    return response


def ticket_citation(request: Request, user, ref: str) -> dict[str, str] | None:
    """Tickets' NEW_TICKET_CITATIONS: the published article ``ref`` (a slug) the new ticket cites — for a reader
    who may read it; None for anything else (an unknown, unpublished or hidden article looks the same)."""
    settings = request.app.state.settings
    try:
        articles.check_name(ref, what="slug")
        article = service.get_article(settings=settings, slug=ref)
    except (Invalid, NotFound):
        return None
    if article.meta.status != "published" or not policy.allows(user, "article.read", article):
        return None
    url = settings.base_url.rstrip("/") + article.url
    # the start of the customer's own text: in the words of whoever writes the ticket
    said = i18n.translate("kb_labels.did_not_help", web.language(request), title=article.title, url=url)
    return {"title": article.title, "url": article.url, "text": f"{said}\n\n"}


# --- writers' pages ------------------------------------------------------------------------------

def _list_field(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


@router.get("/articles")
def articles_page(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                  status: str = ""):
    policy.require(user, "article.write")
    entries = service.list_articles(settings=settings, status=status or None)
    return web.render(request, "knowledge/list.html", {
        "entries": entries, "invalid": service.invalid_articles(settings=settings),
        "status": status, "statuses": articles.STATUS_NAMES,
        "builds": site.states(session), "editions": site.EDITION_NAMES,
        "served": site_status.editions(session, settings),
        "kinds": articles.KIND_NAMES, "visibilities": articles.VISIBILITY_NAMES})


def _new_page(request, *, form=None, errors=None, status_code=200):
    return web.render(request, "knowledge/new.html", {
        "form": form or {"kind": "problem", "visibility": articles.DEFAULT_VISIBILITY}, "errors": errors or {},
        "kinds": articles.KIND_NAMES, "visibilities": articles.VISIBILITY_NAMES}, status_code=status_code)


@router.get("/articles/new")
def new_article_page(request: Request, user: CurrentUser, ticket_id: str = "", kind: str = "problem",
                     title: Annotated[str, Query(max_length=300)] = ""):
    policy.require(user, "article.write")
    return _new_page(request, form={"kind": kind, "visibility": articles.DEFAULT_VISIBILITY, "ticket_id": ticket_id,
                                    "title": title})


@router.post("/articles/new")
def new_article_submit(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    title: Annotated[str, Form(max_length=300)] = "", kind: Annotated[str, Form()] = "problem",
    visibility: Annotated[str, Form()] = articles.DEFAULT_VISIBILITY, section: Annotated[str, Form(max_length=80)] = "",
    summary: Annotated[str, Form(max_length=600)] = "", module: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=500_000)] = "",
):
    policy.require(user, "article.write")
    form = {"title": title, "kind": kind, "visibility": visibility, "section": section, "summary": summary,
            "module": module, "body": body}
    try:
        article = service.create_article(
            session=session, settings=settings, actor=user, body=body, section=section or None,
            front_matter={"title": title, "kind": kind, "visibility": visibility, "summary": summary,
                          "module": module})
    except PortalError as exc:
        session.rollback()
        return _new_page(request, form=form, errors=web.form_errors(exc), status_code=exc.status_code)
    return web.redirect(f"/articles/{article.slug}/edit")


@router.post("/articles/from-ticket")
def from_ticket_submit(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    ticket_id: Annotated[str, Form(max_length=40)] = "", kind: Annotated[str, Form()] = "problem",
    visibility: Annotated[str, Form()] = articles.DEFAULT_VISIBILITY,
):
    policy.require(user, "article.from_ticket")
    try:
        article = service.create_from_ticket(session=session, settings=settings, actor=user, ticket_id=ticket_id,
                                             kind=kind, visibility=visibility)
    except PortalError as exc:
        session.rollback()
        if not policy.allows(user, "article.write"):
            raise
        return _new_page(request, form={"ticket_id": ticket_id, "kind": kind, "visibility": visibility},
                         errors={"ticket_id": exc.detail}, status_code=exc.status_code)
    target = f"/articles/{article.slug}/edit" if policy.allows(user, "article.write") else f"/articles/{article.slug}"
    return web.redirect(target)


@router.get("/articles/{slug}")
def article_page(slug: str, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    article = service.get_article(settings=settings, slug=slug)
    policy.require(user, "article.read", article, missing=not_found("article", slug))
    return web.render(request, "knowledge/article.html", {
        "article": article, "html": render.article_html(settings=settings, body=article.body),
        "builds": site.states(session), "served": site_status.editions(session, settings),
        "editions": site.EDITION_NAMES, "kinds": articles.KIND_NAMES,
        "visibilities": articles.VISIBILITY_NAMES, "statuses": articles.STATUS_NAMES,
        "site_url": article.url})


def _editor(request, *, article, form, errors=None, conflict=None, status_code=200):
    return web.render(request, "knowledge/edit.html", {
        "article": article, "form": form, "errors": errors or {}, "conflict": conflict,
        "kinds": articles.KIND_NAMES, "visibilities": articles.VISIBILITY_NAMES,
        "statuses": articles.STATUS_NAMES, "list_fields": LIST_FIELDS}, status_code=status_code)


def _form_of(article) -> dict:
    meta = article.meta.as_dict()
    form = {k: (", ".join(v) if k in LIST_FIELDS else v) for k, v in meta.items()}
    return {**form, "body": article.body, "base_commit": article.commit}


@router.get("/articles/{slug}/edit")
def edit_page(slug: str, request: Request, user: CurrentUser, settings: SettingsDep):
    policy.require(user, "article.write")
    article = service.get_article(settings=settings, slug=slug)
    return _editor(request, article=article, form=_form_of(article))


@router.post("/articles/{slug}/edit")
def edit_submit(
    slug: str, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    title: Annotated[str, Form(max_length=300)] = "", summary: Annotated[str, Form(max_length=600)] = "",
    kind: Annotated[str, Form()] = "", module: Annotated[str, Form(max_length=200)] = "",
    product_versions: Annotated[str, Form(max_length=2000)] = "", tickets: Annotated[str, Form(max_length=2000)] = "",
    fixed_in: Annotated[str, Form(max_length=2000)] = "", tags: Annotated[str, Form(max_length=2000)] = "",
    visibility: Annotated[str, Form()] = "", status: Annotated[str, Form()] = "",
    authors: Annotated[str, Form(max_length=2000)] = "",
    body: Annotated[str, Form(max_length=500_000)] = "", base_commit: Annotated[str, Form(max_length=40)] = "",
):
    policy.require(user, "article.write")
    form = {"title": title, "summary": summary, "kind": kind, "module": module, "product_versions": product_versions,
            "tickets": tickets, "fixed_in": fixed_in, "tags": tags, "visibility": visibility, "status": status,
            "authors": authors, "body": body, "base_commit": base_commit}
    front_matter = {k: (_list_field(v) if k in LIST_FIELDS else v) for k, v in form.items()
                    if k not in ("body", "base_commit")}
    try:
        article = service.save_article(session=session, settings=settings, actor=user, slug=slug, body=body,
                                       front_matter=front_matter, base_commit=base_commit)
    except PortalError as exc:
        session.rollback()
        current = service.get_article(settings=settings, slug=slug)
        conflict = exc.extra if isinstance(exc, Conflict) else None
        errors = {} if conflict else web.form_errors(exc)
        if conflict:
            errors["_"] = exc.detail
        return _editor(request, article=current, form=form, errors=errors, conflict=conflict,
                       status_code=exc.status_code)
    return web.redirect(f"/articles/{article.slug}?saved={article.commit[:12]}")


def _action(slug: str, request: Request, user, session, settings, fn, action: str):
    policy.require(user, action)
    try:
        fn(session=session, settings=settings, actor=user, slug=slug)
    except Invalid as exc:
        session.rollback()
        article = service.get_article(settings=settings, slug=slug)
        return _editor(request, article=article, form=_form_of(article), errors=web.form_errors(exc),
                       status_code=exc.status_code)
    return web.redirect(f"/articles/{slug}")


@router.post("/articles/{slug}/publish")
def publish_submit(slug: str, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    return _action(slug, request, user, session, settings, service.publish_article, "article.publish")


@router.post("/articles/{slug}/review")
def review_submit(slug: str, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    return _action(slug, request, user, session, settings, service.submit_for_review, "article.write")


@router.post("/articles/{slug}/archive")
def archive_submit(slug: str, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    return _action(slug, request, user, session, settings, service.archive_article, "article.publish")


@router.get("/articles/{slug}/history")
def history_page(slug: str, request: Request, user: CurrentUser, settings: SettingsDep):
    policy.require(user, "article.write")
    article = service.get_article(settings=settings, slug=slug)
    return web.render(request, "knowledge/history.html", {
        "article": article, "versions": service.history(settings=settings, slug=slug)})


@router.get("/articles/{slug}/diff")
def diff_page(slug: str, request: Request, user: CurrentUser, settings: SettingsDep,
              from_commit: Annotated[str, Query(alias="from", max_length=40)] = "",
              to: Annotated[str, Query(max_length=40)] = ""):
    policy.require(user, "article.write")
    article = service.get_article(settings=settings, slug=slug)
    text = service.diff(settings=settings, slug=slug, from_commit=from_commit, to_commit=to)
    return web.render(request, "knowledge/diff.html", {
        "article": article, "diff": text, "from_commit": store.check_commit(from_commit),
        "to_commit": store.check_commit(to)})


@router.post("/articles/{slug}/restore")
def restore_submit(slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                   commit: Annotated[str, Form(max_length=40)] = ""):
    policy.require(user, "article.write")
    service.restore_version(session=session, settings=settings, actor=user, slug=slug, commit=commit)
    return web.redirect(f"/articles/{slug}/history")


@router.post("/articles-build")
def build_submit(user: CurrentUser, session: SessionDep):
    policy.require(user, "kb.build")
    service.request_build(session=session, actor=user)
    return web.redirect("/articles")


def ticket_articles_section(request: Request, session, user, ticket):
    """Tickets' TICKET_PAGE_SECTIONS: the articles citing this ticket that the reader may see."""
    settings = request.app.state.settings
    entries = [e for e in service.articles_for_ticket(settings=settings, ticket_id=ticket.id)
               if policy.allows(user, "article.read", e)]
    can_write = policy.allows(user, "article.from_ticket")
    if not entries and not can_write:
        return None
    status = getattr(ticket.status, "value", ticket.status)
    return "knowledge/_ticket_articles.html", {
        "kb_entries": entries, "kb_ticket": ticket, "kb_can_create": can_write and status in
        service.RESOLVED_TICKET_STATUSES, "kb_kinds": articles.KIND_NAMES,
        "kb_statuses": articles.STATUS_NAMES}


# --- the writers' part of the start page -----------------------------------------------------------------

class SearchGaps(Protocol):
    """Search's most frequent queries that found nothing (objects with ``query`` and ``count``)."""

    def __call__(self, *, session, user, days: int = 30, limit: int = 50) -> list: ...


# Filled by the wiring with search's zero-hit queries: search sits above knowledge, which never imports it.
SEARCH_GAPS: Registry[SearchGaps] = Registry("knowledge.search_gaps")
HOME_LIMIT = 10


def writer_dashboard_section(request: Request, session, user):
    """dashboard.SECTIONS: what awaits the writer — resolved tickets without an article (oldest first), their
    drafts, articles in review, the most frequent searches that found nothing — each with its next action."""
    if not policy.allows(user, "article.write"):
        return None
    settings = request.app.state.settings
    waiting, waiting_total = tickets_link.awaiting_articles(session=session, settings=settings, actor=user,
                                                           limit=HOME_LIMIT)
    entries = [(e, e.meta) for e in service.list_articles(settings=settings) if e.meta is not None]
    drafts = [e for e, meta in entries if meta.status == "draft" and user.username in meta.authors]
    in_review = [e for e, meta in entries if meta.status == "review"]
    gaps = [gap for source in SEARCH_GAPS for gap in source(session=session, user=user, days=30, limit=HOME_LIMIT)]
    unhelpful = (feedback.unhelpful_articles(session=session, actor=user, limit=HOME_LIMIT)
                 if policy.allows(user, "article.feedback") else [])
    return "knowledge/_dashboard_writer.html", {
        "waiting": waiting, "waiting_total": waiting_total, "drafts": drafts[:HOME_LIMIT],
        "in_review": in_review[:HOME_LIMIT], "gaps": gaps[:HOME_LIMIT], "unhelpful": unhelpful,
        "unhelpful_days": feedback.UNHELPFUL_DAYS, "kinds": articles.KIND_NAMES}


# The writers' pages of readers' votes (feedback_api.py).
router.include_router(feedback_api.pages_router)
