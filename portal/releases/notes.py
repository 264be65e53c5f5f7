"""Release notes: rendered from the linked tickets through a Jinja2 template kept in the content repository.

The template is content (``releases/templates/notes.md.j2``), editable by whoever edits the content
repository, so it runs in Jinja2's sandbox. It receives the package and its tickets only — never the
customer organisations, since one text goes to every entitled organisation.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from portal import rendering
from portal.config import Settings
from portal.content import project_root
from portal.errors import Invalid
from portal.i18n import message

TEMPLATE_PATH = "releases/templates/notes.md.j2"
NOTES_MAX = 100_000


def _template_text(settings: Settings) -> str:
    for root in (settings.content_path, project_root()):
        path = Path(root) / TEMPLATE_PATH
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise Invalid.fields({"notes": message("errors_core.notes_template_missing", path=TEMPLATE_PATH)})


def render(*, settings: Settings, package: dict, tickets: list) -> str:
    """Release notes in Markdown for ``package`` (a dict) and its ``tickets`` (Ticket objects)."""
    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    rows = [{
        "id": t.id, "summary": t.summary, "module": t.module, "product_version": t.product_version,
        "cause": t.resolution_cause or "", "solution": t.resolution_solution or "",
        "workaround": t.resolution_workaround or "",
    } for t in tickets]
    try:
        return env.from_string(_template_text(settings)).render(package=package, tickets=rows).strip() + "\n"
    except TemplateError as exc:
        raise Invalid.fields({"notes": message("errors_core.notes_template_broken", path=TEMPLATE_PATH,
                                               reason=str(exc))}) from None


def to_html(text: str) -> Markup:
    """Release notes as HTML for the package page: people's prose (raw HTML shown as text), sanitised, so a
    ticket summary's ``[x](javascript:…)`` is no link."""
    return rendering.render_markdown(text, profile=rendering.TEXT)
