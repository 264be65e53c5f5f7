"""E-mail templates: Russian, Jinja2, a plain-text and an HTML part per message, and a subject.

Each message kind ``k`` has ``portal/templates/email/k.txt`` and ``k.html``. Both extend a layout
(``_layout.txt`` / ``_layout.html``) that adds the greeting and the signature; the text template also
defines ``{% block subject %}``. The HTML environment escapes everything it is given, the text one
nothing (it is not HTML).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from portal import i18n
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
    "package_available": "customer",
    "delivery_awaiting_acknowledgement": "customer",
    "sla_approaching": "staff",
    "sla_breached": "staff",
    "critical_ticket": "staff",
}

PRIORITY_NAMES = {"critical": "критический", "high": "высокий", "medium": "средний", "low": "низкий"}


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


@functools.cache
def _environments(tz: str) -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(str(EMAIL_TEMPLATES))
    text = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    for env in (text, html):
        env.filters["localtime"] = lambda value, fmt="%d.%m.%Y %H:%M": _localtime(value, fmt, tz=tz)
        env.filters["priority_name"] = lambda value: PRIORITY_NAMES.get(value, value)
        # a delivery's channel in words («электронная почта», not «email»)
        env.filters["channel_name"] = lambda value: (i18n.translate(f"channel_{value}")
                                                     if f"channel_{value}" in i18n.catalogue("ru") else value or "")
    return text, html


def render(kind: str, *, settings: Settings, context: dict[str, Any]) -> Rendered:
    """Subject, plain text and HTML of one message kind with the given context."""
    if kind not in KINDS:
        raise LookupError(f"no e-mail template {kind!r}")
    text_env, html_env = _environments(settings.timezone)
    ctx = {"base_url": settings.base_url.rstrip("/"), "support_address": settings.support_address, **context}
    text_template = text_env.get_template(f"{kind}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(ctx))).strip()
    subject = " ".join(subject.split())[:300]  # one line, whatever the data held
    text = text_template.render(ctx).strip() + "\n"
    html = html_env.get_template(f"{kind}.html").render(ctx)
    return Rendered(subject=subject, text=text, html=html)
