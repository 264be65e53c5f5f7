"""Pages of accounts: login, logout, personal tokens, user administration, audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request

from portal import audit, i18n, policy, web
from portal.accounts import login, service
from portal.deps import (
    SESSION_COOKIE,
    CurrentUser,
    DatabaseDep,
    OptionalUser,
    SessionDep,
    SettingsDep,
    client_ip,
    verify_csrf,
)
from portal.errors import Invalid, PortalError
from portal.timeutil import parse_local
from portal.validation import RowId

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str = "/"):
    if user is not None:
        return web.redirect(web.safe_next(next))
    return web.render(request, "accounts/login.html", {"next": web.safe_next(next), "username": ""})


@router.post("/login")
def login_submit(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "/",
):
    target = web.safe_next(next)
    if not username or not password:
        return web.render(request, "accounts/login.html",
                          {"next": target, "username": username, "error": i18n.translate(
                              "login.missing", web.language(request))}, status_code=422)

    def open_session(session, user):
        return service.start_web_session(session=session, settings=settings, user=user, ip=client_ip(request),
                                         user_agent=request.headers.get("user-agent", ""),
                                         replaces=request.cookies.get(SESSION_COOKIE))

    try:
        token = login.attempt(db=db, settings=settings, username=username, password=password,
                              ip=client_ip(request), on_success=open_session)
    except PortalError as exc:
        return web.render(request, "accounts/login.html", {"next": target, "username": username, "error": exc.detail},
                          status_code=exc.status_code, headers=exc.headers or None)
    response = web.redirect(target)
    web.set_cookie(request, response, SESSION_COOKIE, token, max_age=settings.session_hours * 3600)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep):
    service.end_web_session(session=session, token=request.cookies.get(SESSION_COOKIE))
    response = web.redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
def switch_language(request: Request, lang: Annotated[str, Form()] = "ru", next: Annotated[str, Form()] = "/"):
    response = web.redirect(web.safe_next(next))
    if lang in i18n.LANGUAGES:
        web.set_cookie(request, response, "lang", lang, max_age=365 * 86400)
    return response


@router.get("/account/tokens")
def tokens_page(request: Request, user: CurrentUser, session: SessionDep):
    policy.require(user, "token.manage_own")
    return web.render(request, "accounts/tokens.html",
                      {"tokens": service.list_personal_tokens(session=session, user=user)})


@router.post("/account/tokens")
def tokens_create(request: Request, user: CurrentUser, session: SessionDep,
                  name: Annotated[str, Form()] = "", days: Annotated[int, Form()] = 30):
    policy.require(user, "token.manage_own")
    try:
        token, _ = service.create_personal_token(session=session, user=user, name=name, days=days)
    except Invalid as exc:
        return web.render(request, "accounts/tokens.html",
                          {"tokens": service.list_personal_tokens(session=session, user=user),
                           "errors": {e["field"]: e["message"] for e in exc.errors or []}, "name": name,
                           "days": days}, status_code=422)
    return web.render(request, "accounts/tokens.html",
                      {"tokens": service.list_personal_tokens(session=session, user=user), "new_token": token},
                      status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def tokens_revoke(token_id: RowId, user: CurrentUser, session: SessionDep):
    policy.require(user, "token.manage_own")
    service.revoke_token(session=session, user=user, token_id=token_id)
    return web.redirect("/account/tokens")


@router.get("/admin/users")
def users_page(request: Request, user: CurrentUser, session: SessionDep):
    policy.require(user, "user.manage")
    return _users_page(request, session)


def _users_page(request, session, *, status_code=200, **extra):
    return web.render(request, "accounts/users.html", {
        "users": service.list_users(session=session),
        "organizations": service.list_organizations(session=session),
        "roles": [r.value for r in service.Role],
        "form": extra.pop("form", {}),
        **extra,
    }, status_code=status_code)


@router.post("/admin/users")
def users_create(
    request: Request, user: CurrentUser, session: SessionDep,
    username: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", organization: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "", full_name: Annotated[str, Form()] = "",
):
    policy.require(user, "user.manage")
    form = {"username": username, "role": role, "organization": organization, "email": email,
            "full_name": full_name}
    try:
        service.create_user(session=session, actor=user, username=username, role=role, password=password,
                            organization=organization or None, email=email or None, full_name=full_name)
    except PortalError as exc:
        session.rollback()
        errors = {e["field"]: e["message"] for e in exc.errors or []} or {"_": exc.detail}
        return _users_page(request, session, status_code=exc.status_code, form=form, errors=errors)
    return _users_done(request, "flow.users.created", username=username.strip(),
                       role=i18n.translate(f"role.{role}", web.language(request)))


def _users_done(request, key: str, **values):
    """Back to the users page, saying what the change did."""
    response = web.redirect("/admin/users")
    web.flash(request, response, i18n.translate(key, web.language(request), **values))
    return response


@router.post("/admin/organizations")
def organizations_create(request: Request, user: CurrentUser, session: SessionDep,
                         slug: Annotated[str, Form()] = "", name: Annotated[str, Form()] = ""):
    policy.require(user, "org.manage")
    try:
        service.create_organization(session=session, actor=user, slug=slug, name=name)
    except PortalError as exc:
        session.rollback()
        errors = {f"org_{e['field']}": e["message"] for e in exc.errors or []} or {"org": exc.detail}
        return _users_page(request, session, status_code=exc.status_code, errors=errors,
                           org_form={"slug": slug, "name": name})
    return _users_done(request, "flow.users.org_created", name=name.strip())


@router.post("/admin/users/{username}/disable")
def users_disable(request: Request, username: str, user: CurrentUser, session: SessionDep,
                  confirmed: Annotated[bool, Form()] = False):
    policy.require(user, "user.manage")
    if not confirmed:  # first say what disabling does, and to whom
        person = service.get_user(session=session, username=username)
        lang = web.language(request)
        t = lambda key, **values: i18n.translate(key, lang, **values)  # noqa: E731
        return web.render(request, "confirm.html", {"confirm": {
            "title": t("flow.users.disable_title", name=person.display_name), "lead": t("flow.users.disable_lead"),
            "details": [t("flow.users.disable_who", username=person.username, role=t(f"role.{person.role}"))],
            "action": f"/admin/users/{person.username}/disable", "fields": {},
            "button": t("flow.users.disable_button"), "cancel": "/admin/users", "danger": True}})
    person = service.disable_user(session=session, actor=user, username=username)
    return _users_done(request, "flow.users.disabled", name=person.display_name)


@router.post("/admin/users/{username}/enable")
def users_enable(request: Request, username: str, user: CurrentUser, session: SessionDep):
    policy.require(user, "user.manage")
    person = service.enable_user(session=session, actor=user, username=username)
    return _users_done(request, "flow.users.enabled", name=person.display_name)


@router.get("/admin/audit")
def audit_page(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    since: str = "", actor: str = "", action: str = "", object_type: str = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
):
    policy.require(user, "audit.read")
    errors = {}
    try:
        since_at = parse_local(since, settings.timezone)
    except ValueError:
        since_at, errors["since"] = None, i18n.message("errors_core.date_format")
    per_page = 100
    entries = audit.query(session, since=since_at, actor=actor or None, action=action or None,
                          object_type=object_type or None, limit=per_page + 1, offset=(page - 1) * per_page)
    return web.render(request, "accounts/audit.html", {
        "entries": entries[:per_page], "has_more": len(entries) > per_page, "page": page,
        "filters": {"since": since, "actor": actor, "action": action, "object_type": object_type},
        "errors": errors,
    }, status_code=422 if errors else 200)
