"""Rendering pages: one Jinja2 environment, one base layout, the translation function, CSRF tokens."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from portal import i18n, policy, rendering
from portal.accounts import security
from portal.deps import CSRF_COOKIE, CSRF_FIELD
from portal.errors import PortalError

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    key: str  # translation key
    url: str
    action: str | None = None  # policy action the reader needs; None: any signed-in user


# Domains add their pages here when they land; the layout shows only what the reader may use.
NAV: list[NavItem] = [
    NavItem("nav.dashboard", "/"),
    NavItem("nav.search", "/search", "search.use"),
    NavItem("nav.search_gaps", "/insights/search", "search.insights"),
    NavItem("nav.tickets", "/tickets", "ticket.view"),
    NavItem("nav.new_ticket", "/tickets/new", "ticket.create"),
    NavItem("nav.queue", "/tickets/queue", "ticket.queue"),
    NavItem("nav.sla_report", "/tickets/sla", "sla.report"),
    NavItem("nav.catalogue", "/admin/catalogue", "catalogue.manage"),
    NavItem("nav.packages", "/packages", "package.view"),
    NavItem("nav.package_upload", "/packages/new", "package.manage"),
    NavItem("nav.deliveries", "/deliveries", "delivery.record"),
    NavItem("nav.users", "/admin/users", "user.manage"),
    NavItem("nav.audit", "/admin/audit", "audit.read"),
    NavItem("nav.intake", "/intake", "intake.assign"),
    NavItem("nav.outbox", "/admin/outbox", "outbox.manage"),
    NavItem("nav.jobs", "/admin/jobs", "jobs.manage"),
    NavItem("nav.notifications", "/account/notifications"),
    NavItem("nav.kb", "/kb/"),
    NavItem("nav.articles", "/articles", "article.write"),
]


def language(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return i18n.pick_language(request.cookies.get("lang"), request.headers.get("accept-language"),
                              user.language if user else None)


def csrf_nonce(request: Request) -> str:
    nonce = getattr(request.state, "csrf_nonce", None) or request.cookies.get(CSRF_COOKIE)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.csrf_nonce_new = True
    request.state.csrf_nonce = nonce
    return nonce


def csrf_token(request: Request) -> str:
    return security.csrf_token_for(request.app.state.settings.secret(), csrf_nonce(request))


def set_cookie(request: Request, response, key: str, value: str, *, max_age: int | None = None,
               httponly: bool = True, samesite: str = "lax") -> None:
    settings = request.app.state.settings
    secure = settings.cookie_secure == "always" or (
        settings.cookie_secure == "auto" and request.url.scheme == "https")
    response.set_cookie(key, value, max_age=max_age, httponly=httponly, samesite=samesite, secure=secure,
                        path="/")


def _localtime(value: dt.datetime | None, fmt: str = "%d.%m.%Y %H:%M", *, tz: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(ZoneInfo(tz)).strftime(fmt)
    return value.strftime(fmt.split(" ")[0])


def make_templates(settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True  # every template, whatever its file name: a person's text is never markup here
    env.globals["allows"] = policy.allows
    env.filters["prose"] = rendering.render_markdown  # a person's text (Markdown) as sanitised HTML
    env.filters["localtime"] = lambda value, fmt="%d.%m.%Y %H:%M": _localtime(value, fmt, tz=settings.timezone)
    env.globals["portal_timezone"] = settings.timezone
    return templates


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page with the base context: user, language, translation, CSRF token, navigation."""
    user = getattr(request.state, "user", None)
    lang = language(request)
    ctx = {
        "request": request,
        "user": user,
        "lang": lang,
        "t": lambda key, **values: i18n.translate(key, lang, **values),
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "nav": [item for item in NAV if user is not None and (item.action is None or policy.allows(user, item.action))],
        "settings": request.app.state.settings,
    }
    ctx.update(context or {})
    response = request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status_code,
                                                            headers=headers)
    if getattr(request.state, "csrf_nonce_new", False):
        set_cookie(request, response, CSRF_COOKIE, request.state.csrf_nonce, samesite="strict")
    return response


def form_errors(exc: PortalError) -> dict[str, str]:
    """A refusal as a form shows it: each field's message keyed like the form's input (contact.name →
    contact_name), or the whole message under "_" when no field is named."""
    if exc.errors:
        return {e["field"].replace(".", "_"): e["message"] for e in exc.errors}
    return {"_": exc.detail}


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default
