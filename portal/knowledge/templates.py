"""Article templates: Jinja2 files ``kb/templates/<kind>.md.j2`` in the content repository, one per kind.

Writers edit them through git, so they are read from the repository's HEAD and rendered in Jinja2's
sandbox (a template can format the ticket's fields, not reach Python). A template renders the article's
Markdown body from a resolved ticket; the front matter is filled by the portal from the same ticket.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from portal.config import Settings
from portal.content import ContentRepo
from portal.errors import Invalid, NotFound
from portal.i18n import DEFAULT_LANGUAGE, message
from portal.knowledge import articles, store

TEMPLATE_SUFFIX = ".md.j2"


@dataclass
class TicketFacts:
    """What a template may use from a ticket, whatever the tickets domain's model looks like."""

    id: str
    kind: str
    module: str
    product_version: str
    summary: str
    description: str
    steps_to_reproduce: str
    priority: str
    status: str
    cause: str
    solution: str
    workaround: str
    fixed_in: list[str]
    url: str

    @classmethod
    def of(cls, ticket: Any, *, settings: Settings, fixed_in: list[str] | None = None) -> TicketFacts:
        def text(name: str) -> str:
            value = getattr(ticket, name, None)
            value = getattr(value, "value", value)  # enums
            return "" if value is None else str(value).strip()

        ticket_id = text("id")
        return cls(id=ticket_id, kind=text("kind"), module=text("module"), product_version=text("product_version"),
                   summary=text("summary"), description=text("description"),
                   steps_to_reproduce=text("steps_to_reproduce"), priority=text("priority"),
                   status=text("status"), cause=text("resolution_cause"), solution=text("resolution_solution"),
                   workaround=text("resolution_workaround"),
                   fixed_in=list(fixed_in if fixed_in is not None else getattr(ticket, "fixed_in", None) or []),
                   url=f"{settings.base_url.rstrip('/')}/tickets/{ticket_id}")


def template_path(kind: str) -> str:
    if kind not in articles.KIND_NAMES:
        raise Invalid.fields({"kind": message("errors_kb_content.kind", kinds=", ".join(articles.KIND_NAMES))})
    return f"{articles.KB_DIR}/{articles.TEMPLATES_DIR}/{kind}{TEMPLATE_SUFFIX}"


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["quote"] = lambda text: "\n".join(f"> {line}" if line else ">" for line in str(text).splitlines())
    env.filters["indent4"] = lambda text: "\n".join(f"    {line}" if line else "" for line in str(text).splitlines())
    return env


# The ticket's free text as the customer and second line typed it. Placed into the Markdown draft with
# ``&``, ``<`` and ``>`` as entities, so an ``<img onerror=…>`` in a description is quoted as text in the
# draft and on the published page instead of becoming markup; Markdown itself (lists, emphasis) stays.
QUOTED_FIELDS = ("module", "product_version", "summary", "description", "steps_to_reproduce", "cause", "solution",
                 "workaround")
_HTML_SIGNIFICANT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def quote_html(text: str) -> str:
    """``text`` with the characters HTML reads as markup written as entities (Markdown shows them as typed)."""
    return text.translate(_HTML_SIGNIFICANT)


def render_body(*, settings: Settings, kind: str, ticket: TicketFacts) -> str:
    """The article body for a ticket, from the repository's template of that kind."""
    quoted = {name: quote_html(getattr(ticket, name)) for name in QUOTED_FIELDS}
    ticket = dataclasses.replace(ticket, **quoted)  # type: ignore[arg-type]  # mypy checks **kwargs against every field; these are all str
    path = template_path(kind)
    try:
        source = store.read_text(ContentRepo(settings), path)
    except NotFound:
        raise NotFound(message("errors_kb_content.no_template", path=path)) from None
    kind_name = articles.KIND_NAMES[kind].in_language(DEFAULT_LANGUAGE)  # the body is the knowledge base's text
    try:
        return _environment().from_string(source).render(ticket=ticket, kind_name=kind_name)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        if line:
            raise Invalid.fields({"template": message("errors_kb_content.template_fails_at", path=path, line=line,
                                                      error=exc)}) from None
        raise Invalid.fields({"template": message("errors_kb_content.template_fails", path=path, error=exc)}) from None


def front_matter_for(*, ticket: TicketFacts, kind: str, visibility: str) -> dict[str, Any]:
    """The front matter of a draft written from a ticket."""
    return {
        "title": ticket.summary or f"Заявка {ticket.id}",
        "summary": ticket.summary,
        "kind": kind,
        "module": ticket.module,
        "product_versions": [ticket.product_version] if ticket.product_version else [],
        "tickets": [ticket.id],
        "fixed_in": ticket.fixed_in,
        "tags": [],
        "visibility": visibility,
        "status": "draft",
    }
