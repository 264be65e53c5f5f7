"""Article bodies as HTML in the portal (article page, editor preview), as the site renders them.

The Markdown extensions are the ones the repository's ``mkdocs.yml`` names (``site.markdown_extensions``),
so the preview equals the published page; rendering and sanitising are ``portal.rendering``'s, so a
writer's ``<script>`` or ``javascript:`` link never runs in the portal either.
"""

from __future__ import annotations

import functools
import re

from markupsafe import Markup

from portal import rendering
from portal.config import Settings
from portal.content import ContentRepo
from portal.knowledge import site


@functools.lru_cache(maxsize=16)
def _profile(config_text: str) -> rendering.MarkdownProfile:
    names, configs = site.markdown_extensions(site.read_config(config_text) if config_text else {})
    return rendering.MarkdownProfile.site(names, configs)


def site_profile(settings: Settings) -> rendering.MarkdownProfile:
    """The rendering profile of the site's ``markdown_extensions`` at the content repository's HEAD."""
    with ContentRepo(settings).repo() as repo:
        try:
            text = repo.git.show("HEAD:mkdocs.yml")
        except Exception:  # GitCommandError: no mkdocs.yml, the site's defaults apply
            text = ""
    return _profile(text)


# A writer links another article as MkDocs wants it, by its file: ``priorities-and-sla.md`` or
# ``../support/priorities-and-sla.md#sla``. nh3 has already normalised every href to double quotes.
_ARTICLE_FILE_LINK = re.compile(r'href="(?:\.\./)*(?:[a-z0-9-]+/)?([a-z0-9][a-z0-9-]*)\.md(#[A-Za-z0-9_-]*)?"')


def _links_to_articles(html: str) -> str:
    """Relative links to article files point at their pages in the portal (``/articles/<slug>``): in the
    portal the link as written would lead to a page that does not exist."""
    return _ARTICLE_FILE_LINK.sub(lambda m: f'href="/articles/{m.group(1)}{m.group(2) or ""}"', html)


def article_html(*, settings: Settings, body: str, strict: bool = False) -> Markup:
    """Sanitised HTML of an article body; ``strict`` raises ``rendering.RenderTimeout`` (422) instead of
    showing the text as preformatted when it cannot be rendered in time (the editor preview)."""
    html = rendering.render_markdown(body, profile=site_profile(settings), strict=strict)
    return Markup(_links_to_articles(str(html)))
