"""Rendering pages: one Jinja2 environment, one base layout, the translation function, CSRF tokens."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from portal import i18n, policy, rendering
from portal.accounts import security
from portal.accounts.models import Organization, User
from portal.deps import CSRF_COOKIE, CSRF_FIELD
from portal.errors import PortalError

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    key: str  # translation key
    url: str
    action: str | None = None  # policy action the reader needs; None: any signed-in user
    group: str | None = None  # translation key of a drop-down that holds it (one visible item: a plain link)


# Domains add their pages here when they land; the layout shows only what the reader may use.
NAV: list[NavItem] = [
    NavItem("nav.dashboard", "/"),
    NavItem("nav.search", "/search", "search.use"),
    NavItem("nav.search_gaps", "/insights/search", "search.insights"),
    NavItem("nav.tickets", "/tickets", "ticket.view"),
    NavItem("nav.new_ticket", "/tickets/new", "ticket.create"),
    NavItem("nav.queue", "/tickets/queue", "ticket.queue"),
    NavItem("nav.sla_report", "/tickets/sla", "sla.report"),
    NavItem("nav.packages", "/packages", "package.view", "nav.group.packages"),
    NavItem("nav.package_upload", "/packages/new", "package.manage", "nav.group.packages"),
    NavItem("nav.deliveries", "/deliveries", "delivery.record", "nav.group.packages"),
    NavItem("nav.delivery_history", "/deliveries/history", "delivery.view", "nav.group.packages"),
    NavItem("nav.intake", "/intake", "intake.assign", "nav.group.admin"),
    NavItem("nav.catalogue", "/admin/catalogue", "catalogue.manage", "nav.group.admin"),
    NavItem("nav.users", "/admin/users", "user.manage", "nav.group.admin"),
    NavItem("nav.audit", "/admin/audit", "audit.read", "nav.group.admin"),
    NavItem("nav.outbox", "/admin/outbox", "outbox.manage", "nav.group.admin"),
    NavItem("nav.jobs", "/admin/jobs", "jobs.manage", "nav.group.admin"),
    NavItem("nav.notifications", "/account/notifications"),
    NavItem("nav.kb", "/kb/"),
    NavItem("nav.articles", "/articles", "article.write"),
]


@dataclass(frozen=True)
class NavEntry:
    """One place in the menu row: a link, or a drop-down of links (so every role's menu is one row at 1366 px)."""
    key: str
    items: tuple[NavItem, ...]

    @property
    def is_group(self) -> bool:
        return len(self.items) > 1


def nav_entries(items: list[NavItem]) -> list[NavEntry]:
    """The reader's menu: items of one group gathered where its first item stands; a group with one item
    left for this reader is shown as that item."""
    entries: list[NavEntry] = []
    groups: dict[str, list[NavItem]] = {}
    for item in items:
        if item.group is None:
            entries.append(NavEntry(item.key, (item,)))
        elif item.group in groups:
            groups[item.group].append(item)
        else:
            groups[item.group] = [item]
            entries.append(NavEntry(item.group, ()))
    return [NavEntry(e.key, tuple(groups[e.key])) if e.key in groups else e for e in entries]


def nav_current(path: str, items: list[NavItem]) -> str | None:
    """The URL of the menu item this page belongs to: the longest one the path starts with (/tickets/new is
    «Новая заявка», not «Заявки»)."""
    matches = [item.url for item in items
               if path == item.url or (item.url != "/" and path.startswith(item.url.rstrip("/") + "/"))]
    return max(matches, key=len, default=None)


def language(request: Request) -> str:
    user = getattr(request.state, "user", None)
    # Read without loading: answering an error after the request's session rolled back must not query again.
    user_language = sqlalchemy.inspect(user).dict.get("language") if user is not None else None
    return i18n.pick_language(request.cookies.get("lang"), request.headers.get("accept-language"), user_language)


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


FLASH_COOKIE = "portal_flash"


def _flash_signature(secret: bytes, text: str) -> str:
    return hmac.new(secret, b"flash:" + text.encode(), hashlib.sha256).hexdigest()


def flash(request: Request, response, text: str) -> None:
    """Tell the next page the reader sees what their action did (after a redirect). Carried in a short-lived
    cookie signed with the secret key, so only the portal's own words are ever shown; rendered escaped.
    A message is worded in the reader's language now, as the cookie holds text."""
    if isinstance(text, i18n.Message):
        text = text.in_language(language(request))
    encoded = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    value = f"{encoded}.{_flash_signature(request.app.state.settings.secret(), text)}"
    set_cookie(request, response, FLASH_COOKIE, value, max_age=120)


def _take_flash(request: Request) -> str | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value or "." not in value:
        return None
    encoded, signature = value.rsplit(".", 1)
    try:
        text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(_flash_signature(request.app.state.settings.secret(), text), signature):
        return None
    return text


def _localtime(value: dt.datetime | dt.date | str | None, fmt: str = "%d.%m.%Y %H:%M", *, tz: str) -> str:
    """A moment as people read it: in the portal's time zone, one format everywhere (UTC when stored without a
    zone). Also takes the ISO text a moment becomes in an event's or audit row's JSON details."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
        except ValueError:
            return text  # not a moment: shown as it is
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(ZoneInfo(tz)).strftime(fmt)
    return value.strftime(fmt.split(" ")[0])


_SIZE_UNITS = {"ru": ("Б", "КБ", "МБ", "ГБ", "ТБ"), "en": ("B", "KB", "MB", "GB", "TB")}


def _decimal(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "ru" else text


def filesize(size: int | None, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A size as a person reads it: «512 Б», «2,9 МБ», «1,2 ГБ» (binary multiples, like sha256sum users'
    tools show them); never «0.0 КБ» for a small file."""
    if size is None:
        return "—"
    units = _SIZE_UNITS.get(lang, _SIZE_UNITS["ru"])
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} {units[0]}"
    return f"{_decimal(value, lang, 1 if value < 100 else 0)} {units[unit]}"


# Russian nouns after a number: 1 минута, 2 минуты, 5 минут (one, few, many).
_UNITS_WORDS = {
    "ru": {"d": ("день", "дня", "дней"), "h": ("час", "часа", "часов"), "m": ("минута", "минуты", "минут"),
           "s": ("секунда", "секунды", "секунд")},
    "en": {"d": ("day", "days", "days"), "h": ("hour", "hours", "hours"), "m": ("minute", "minutes", "minutes"),
           "s": ("second", "seconds", "seconds")},
}


def _plural(n: int, forms: tuple[str, str, str], lang: str) -> str:
    if lang != "ru":
        return forms[0] if n == 1 else forms[1]
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def duration(value: dt.timedelta | float | int | None, lang: str = i18n.DEFAULT_LANGUAGE, *,
             unit: str = "s") -> str:
    """A duration in words, the two largest parts: «4 секунды», «1 час 30 минут», «2 дня 3 часа» — not
    «4.5 s» or «1.0 ч». A number is read in ``unit`` ("s" seconds, "h" hours)."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value) * (
        3600 if unit == "h" else 1)
    seconds = round(abs(seconds))
    words = _UNITS_WORDS.get(lang, _UNITS_WORDS["ru"])
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(n, key) for n, key in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    if not parts:
        parts = [(0, "s")]
    return " ".join(f"{n} {_plural(n, words[key], lang)}" for n, key in parts[:2])


# --- people and recorded values, as a person reads them ---------------------------------------------------

def _people_names(request: Request) -> dict[str, str]:
    """Login → the person's name, read once per page (the users of a support portal are a short list)."""
    names = getattr(request.state, "people_names", None)
    if names is None:
        with request.app.state.db.session_scope(write=False) as session:
            names = {login: full_name for login, full_name in session.execute(
                sqlalchemy.select(User.username, User.full_name)) if full_name}
        request.state.people_names = names
    return names


def _organization_names(request: Request) -> dict[str, str]:
    """Slug → the organisation's name, read once per page: the audit log stored slugs («romashka»), people read
    names («ООО Ромашка»)."""
    names = getattr(request.state, "organization_names", None)
    if names is None:
        with request.app.state.db.session_scope(write=False) as session:
            names = dict(session.execute(sqlalchemy.select(Organization.slug, Organization.name)).all())
        request.state.organization_names = names
    return names


def person_name(who: Any, lang: str, names: dict[str, str]) -> str:
    """Who did something, by name: a user's full name (their login when they have none), the portal's own
    actors in words («Фоновое задание «Отправка писем»», «Администратор сервера (root)»)."""
    if who is None or who == "":
        return "—"
    if isinstance(who, User):
        return who.display_name
    text = str(who)
    return i18n.actor_words(text, lang) or names.get(text, text)


def _catalogued(key: str, fallback: str, lang: str) -> str:
    return i18n.translate(key, lang) if key in i18n.catalogue(i18n.DEFAULT_LANGUAGE) else fallback


# A recorded code (a status, a priority, a role …) is read through the first of these catalogue prefixes that
# knows it; fields that name a person are shown by name.
_VALUE_PREFIXES = {
    "from": ("status.", "priority."), "to": ("status.", "priority."), "priority": ("priority.",),
    "status": ("status.", "delivery_status.", "package_status."), "kind": ("kind.",), "channel": ("channel.",),
    "role": ("role.",), "reason": ("defer.",), "via": ("via.",),
}
_PERSON_FIELDS = ("assignee", "by", "actor", "downloaded_by", "delivered_by", "confirmed_by", "acknowledged_by")
_ORGANIZATION_FIELDS = ("organization", "organizations")
_MOMENT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def recorded_value(key: str, value: Any, lang: str, tz: str, names: dict[str, str],
                   organizations: dict[str, str] | None = None) -> str:
    """One value of an audit row's or event's details in words: no None/True, no Python lists, no codes; people
    and organisations by name (``organizations``: slug → name)."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return i18n.translate("common.yes" if value else "common.no", lang)
    if isinstance(value, (list, tuple)):
        return ", ".join(recorded_value(key, v, lang, tz, names, organizations) for v in value)
    if isinstance(value, dict):
        if "name" in value:
            size = value.get("size")
            return str(value["name"]) + (f" ({filesize(size, lang)})" if isinstance(size, int) else "")
        return "; ".join(f"{_field_label(k, lang)}: {recorded_value(k, v, lang, tz, names, organizations)}"
                         for k, v in value.items())
    if key == "size" and isinstance(value, int):
        return filesize(value, lang)
    text = str(value)
    for prefix in _VALUE_PREFIXES.get(key, ()):
        if prefix + text in i18n.catalogue(i18n.DEFAULT_LANGUAGE):
            return i18n.translate(prefix + text, lang)
    if key in _PERSON_FIELDS:
        return person_name(text, lang, names)
    if key in _ORGANIZATION_FIELDS and organizations:
        return organizations.get(text, text)
    if _MOMENT_RE.match(text):
        return _localtime(text, tz=tz)
    return text


def _field_label(key: str, lang: str) -> str:
    # A key without a name of its own still reads as words, never as a snake_case code.
    return _catalogued(f"audit.field.{key}", key.replace("_", " "), lang)


def audit_object(object_type: str, object_id: str, lang: str, names: dict[str, str]) -> str:
    """What an audit row is about: «Заявка PRM-2026-00001», «Пользователь Анна Иванова»."""
    ident = person_name(object_id, lang, names) if object_type == "user" else object_id
    return f"{_catalogued(f'audit.object_kind.{object_type}', '', lang)} {ident}".strip()


def audit_lines(action: str, details: dict[str, Any], lang: str, tz: str,
                names: dict[str, str], organizations: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """An audit row's details as «поле: значение» lines, a change as «поле: было → стало»."""
    details = dict(details or {})
    lines: list[tuple[str, str]] = []
    if "from" in details and "to" in details:
        before, after = details.pop("from"), details.pop("to")
        changed = "priority" if action.endswith(".priority") else "status"
        if before is not None or after is not None:  # an event that changed no status records neither
                lines.append((_field_label(changed, lang), f"{recorded_value('from', before, lang, tz, names)} → "
                                                       f"{recorded_value('to', after, lang, tz, names)}"))
    if "previous" in details:
        previous = details.pop("previous")
        field = next((k for k in ("eta", "assignee", "priority", "status") if k in details), None)
        if field:
            after = details.pop(field)
            lines.append((_field_label(field, lang), f"{recorded_value(field, previous, lang, tz, names)} → "
                                                     f"{recorded_value(field, after, lang, tz, names)}"))
        else:
            details["previous"] = previous
    lines += [(_field_label(k, lang), recorded_value(k, v, lang, tz, names, organizations))
              for k, v in details.items()]
    return lines


def localtime_text(value: dt.datetime | dt.date | str | None, tz: str) -> str:
    """The `localtime` filter for Python code (a message that names a moment)."""
    return _localtime(value, tz=tz)


def make_templates(settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True  # every template, whatever its file name: a person's text is never markup here
    env.globals["allows"] = policy.allows
    env.filters["prose"] = rendering.render_markdown  # a person's text (Markdown) as sanitised HTML
    env.filters["localtime"] = lambda value, fmt="%d.%m.%Y %H:%M": _localtime(value, fmt, tz=settings.timezone)
    env.filters["filesize"] = pass_context(lambda ctx, size: filesize(size, ctx.get("lang", i18n.DEFAULT_LANGUAGE)))
    env.filters["duration"] = pass_context(
        lambda ctx, value, unit="s": duration(value, ctx.get("lang", i18n.DEFAULT_LANGUAGE), unit=unit))
    env.filters["person"] = pass_context(
        lambda ctx, who: person_name(who, ctx.get("lang", i18n.DEFAULT_LANGUAGE), _people_names(ctx["request"])))
    env.filters["audit_action"] = pass_context(
        lambda ctx, action: _catalogued(f"audit.action.{action}", action, ctx.get("lang", i18n.DEFAULT_LANGUAGE)))
    env.filters["audit_object"] = pass_context(
        lambda ctx, entry: audit_object(entry.object_type, entry.object_id, ctx.get("lang", i18n.DEFAULT_LANGUAGE),
                                        _people_names(ctx["request"])))
    # The audit filter's choices: every action and kind of object the catalogues word, by their words.
    env.globals["audit_choices"] = pass_context(lambda ctx, prefix: sorted(
        ((key.removeprefix(prefix), text) for key, text in i18n.catalogue(ctx.get("lang", i18n.DEFAULT_LANGUAGE)).items()
         if key.startswith(prefix)), key=lambda pair: pair[1].lower()))
    env.filters["audit_lines"] = pass_context(
        lambda ctx, entry: audit_lines(entry.action, entry.details, ctx.get("lang", i18n.DEFAULT_LANGUAGE),
                                       settings.timezone, _people_names(ctx["request"]),
                                       _organization_names(ctx["request"])))
    env.filters["recorded"] = pass_context(
        lambda ctx, value, key="": recorded_value(key, value, ctx.get("lang", i18n.DEFAULT_LANGUAGE),
                                                  settings.timezone, _people_names(ctx["request"])))
    # A job's recorded failure without the exception's class name (the server log keeps the traceback).
    env.filters["failure_text"] = lambda text: re.sub(r"^[A-Za-z_][\w.]*(?:Error|Exception): ", "", text or "")
    # Jobs' reports are stored as the Russian words they had; a reader of another language gets them reworded.
    env.filters["job_report"] = pass_context(lambda ctx, text: i18n.reword(
        text, ctx.get("lang", i18n.DEFAULT_LANGUAGE), ("notify.job_report.", "job_report.")))
    env.globals["portal_timezone"] = settings.timezone
    return templates


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page with the base context: user, language, translation, CSRF token, navigation."""
    user = getattr(request.state, "user", None)
    lang = language(request)
    menu = [item for item in NAV if user is not None and (item.action is None or policy.allows(user, item.action))]
    ctx = {
        "request": request,
        "user": user,
        "lang": lang,
        "t": lambda key, **values: i18n.translate(key, lang, **values),
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "nav": nav_entries(menu),
        "nav_current": nav_current(request.url.path, menu),
        "settings": request.app.state.settings,
        "flash": _take_flash(request),
    }
    ctx.update(context or {})
    with i18n.using(lang):  # messages in the context (errors, reports) read in the reader's language
        response = request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status_code,
                                                                headers=headers)
    if FLASH_COOKIE in request.cookies:  # shown once
        response.delete_cookie(FLASH_COOKIE, path="/")
    if getattr(request.state, "csrf_nonce_new", False):
        set_cookie(request, response, CSRF_COOKIE, request.state.csrf_nonce, samesite="strict")
    return response


def form_errors(exc: PortalError) -> dict[str, str]:
    """A refusal as a form shows it: each field's message keyed like the form's input (contact.name →
    contact_name), or the whole message under "_" when no field is named. Messages stay messages: the page
    reads them in its reader's language when it renders."""
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
