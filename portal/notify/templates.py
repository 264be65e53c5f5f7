"""E-mail templates: Jinja2, a plain-text and an HTML part per message, and a subject — in the recipient's language.

Each message kind ``k`` has ``portal/templates/email/k.txt`` and ``k.html``, one template per message for every
language: the words come from the catalogues (``portal/locales/<lang>/email.yml``) through ``t("email.…")``.
Both extend a layout (``_layout.txt`` / ``_layout.html``) that adds the greeting and the signature; the text
template also defines ``{% block subject %}``. The HTML environment escapes everything it is given, the text one
nothing (it is not HTML). A recipient with an account reads the language of their account; an address without
one (a ticket's contact) reads Russian.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from portal import i18n, web
from portal.config import Settings

EMAIL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"

# Every message kind and whom it is for: "customer" (the ticket's people, an organisation's users) or "staff".
KINDS: dict[str, str] = {
    "ticket_registered": "customer",
    "info_requested": "customer",
    "info_reminder": "customer",
    "priority_corrected": "customer",
    "ticket_suspended": "customer",
    "ticket_deferred": "customer",
    "eta_set": "customer",
    "ticket_resolved": "customer",
    "support_reply": "customer",
    "ticket_merged": "customer",
    "package_available": "customer",
    "delivery_awaiting_acknowledgement": "customer",
    "package_withdrawn": "customer",
    "package_superseded": "customer",
    "withdrawal_unacknowledged": "staff",
    "sla_approaching": "staff",
    "sla_breached": "staff",
    "critical_ticket": "staff",
}


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _localtime(value: dt.datetime | dt.date | None, fmt: str = "%d.%m.%Y %H:%M", *, tz: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(ZoneInfo(tz)).strftime(fmt)
    return value.strftime("%d.%m.%Y")


def _lang(ctx) -> str:
    return ctx.get("lang", i18n.DEFAULT_LANGUAGE)


def _catalogued(prefix: str, value: Any, lang: str) -> str:
    """``prefix + value`` in the catalogue, or the value as it was (data the catalogues do not word)."""
    key = f"{prefix}{value}"
    return i18n.translate(key, lang) if key in i18n.catalogue(i18n.DEFAULT_LANGUAGE) else str(value or "")


def _words(lang: str, key: str, values: dict[str, Any]) -> str:
    """The catalogue's text, its values read in ``lang`` (a message among them is worded in ``lang`` too)."""
    return i18n.translate(key, lang, **{k: v.in_language(lang) if isinstance(v, i18n.Message) else v
                                        for k, v in values.items()})


@jinja2.pass_context
def _text_words(ctx, key: str, **values: Any) -> str:
    return _words(_lang(ctx), key, values)


@jinja2.pass_context
def _html_words(ctx, key: str, **values: Any) -> Markup:
    """The catalogue's text as HTML: the text escaped, each value escaped unless the template made it markup
    (``strong``) — a person's words inside a sentence never become tags."""
    lang = _lang(ctx)
    resolved = {k: v.in_language(lang) if isinstance(v, i18n.Message) else v for k, v in values.items()}
    return Markup(escape(i18n.translate(key, lang))).format(**resolved) if resolved \
        else Markup(escape(i18n.translate(key, lang)))


@functools.cache
def _environments(tz: str) -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(str(EMAIL_TEMPLATES))
    text = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    text.globals["t"], html.globals["t"] = _text_words, _html_words
    text.filters["strong"] = lambda value: value
    html.filters["strong"] = lambda value: Markup("<strong>{}</strong>").format(value)
    for env in (text, html):
        env.filters["localtime"] = lambda value, fmt="%d.%m.%Y %H:%M": _localtime(value, fmt, tz=tz)
        env.filters["priority_name"] = jinja2.pass_context(
            lambda ctx, value: _catalogued("priority.", value, _lang(ctx)))
        # a delivery's channel in words («электронная почта», not «email»)
        env.filters["channel_name"] = jinja2.pass_context(
            lambda ctx, value: _catalogued("channel_", value, _lang(ctx)))
        # how long is left, in words («1 час 50 минут», "1 hour 50 minutes"); text as it came
        env.filters["duration"] = jinja2.pass_context(
            lambda ctx, value: web.duration(value, _lang(ctx)) if isinstance(value, dt.timedelta) else value)
    return text, html


def render(kind: str, *, settings: Settings, context: dict[str, Any], lang: str = i18n.DEFAULT_LANGUAGE) -> Rendered:
    """Subject, plain text and HTML of one message kind with the given context, worded in ``lang``."""
    if kind not in KINDS:
        raise LookupError(f"no e-mail template {kind!r}")
    lang = lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    text_env, html_env = _environments(settings.timezone)
    ctx = {"base_url": settings.base_url.rstrip("/"), "support_address": settings.support_address, **context,
           "lang": lang}
    with i18n.using(lang):  # messages in the context (a reason of deferral, what is missing) read in ``lang``
        text_template = text_env.get_template(f"{kind}.txt")
        subject = "".join(text_template.blocks["subject"](text_template.new_context(ctx))).strip()
        subject = " ".join(subject.split())[:300]  # one line, whatever the data held
        text = text_template.render(ctx).strip() + "\n"
        html = html_env.get_template(f"{kind}.html").render(ctx)
    return Rendered(subject=subject, text=text, html=html)
