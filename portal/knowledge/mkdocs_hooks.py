"""The portal's own MkDocs hooks, loaded by every site build (``hooks:`` of the generated configuration).

A writer's and, through "article from ticket", a customer's text reaches the built pages. MkDocs' Jinja
environment does not autoescape, and Material prints titles, tags and the description as they come, so:

* every page's HTML is sanitised after Markdown (``portal.rendering.sanitize_html``), so the search index,
  made from it, carries no markup either; the tags plugin's listings, added later, are made only of the
  escaped titles and tags below;
* titles (front matter, navigation, sections, the table of contents), the description and tags become
  escaped text (``Markup``): printed raw they show exactly as typed, and Material's ``| e`` does not escape
  them twice;
* page metadata is cut down to the keys the portal writes, so no front matter chooses a template.

This file runs inside the MkDocs process (``site.run_mkdocs``), never in the web server. Hooks of the
content repository are never loaded (``site.CONFIG_KEYS``); this is the only code a build runs besides
MkDocs, Material and the Markdown extensions.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape
from mkdocs.plugins import event_priority
from mkdocs.structure.nav import Link, Section
from mkdocs.structure.pages import Page

from portal.rendering import sanitize_html

_SLUG = re.compile(r"[a-z0-9-]+")
# What the portal itself writes into a page's front matter (site._page_text, site._filtered_docs).
# ``article``: the slug of an article's page (the theme links «Создать заявку» with it); a slug is [a-z0-9-].
PAGE_META_KEYS = frozenset({"title", "description", "tags", "revision_date", "article"})


def text(value: Any) -> Markup:
    """Plain text as HTML that shows it as typed; already-escaped ``Markup`` is kept as it is."""
    return escape("" if value is None else str(value) if not isinstance(value, Markup) else value)


def rendered_text(html: str) -> Markup:
    """A title MkDocs took from rendered HTML: its text only, escaped."""
    return escape(Markup(html).striptags())


def on_config(config, **kwargs):
    for key in ("site_name", "site_description", "site_author"):
        if config.get(key):
            config[key] = text(config[key])
    if config.get("copyright"):
        config["copyright"] = sanitize_html(str(config["copyright"]))
    return config


def on_nav(nav, config, files, **kwargs):
    def walk(items):
        for item in items:
            if isinstance(item, Section):
                item.title = text(item.title)
                walk(item.children)
            elif isinstance(item, (Page, Link)) and item.title is not None:
                item.title = text(item.title)  # a title given by the navigation of the generated config

    walk(nav.items)
    return nav


@event_priority(100)  # before the tags plugin (-50) and search read the metadata
def on_page_markdown(markdown, page, config, files, **kwargs):
    meta = {k: v for k, v in page.meta.items() if k in PAGE_META_KEYS}
    if "title" in meta:
        meta["title"] = text(meta["title"])
    if "description" in meta:
        meta["description"] = text(meta["description"])
    if "article" in meta and not (isinstance(meta["article"], str) and _SLUG.fullmatch(meta["article"])):
        del meta["article"]
    tags = meta.get("tags")
    if tags is not None:
        meta["tags"] = [text(t) for t in (tags if isinstance(tags, list) else [tags])
                        if isinstance(t, (str, int, float)) and str(t).strip()]
    page.meta.clear()
    page.meta.update(meta)
    return markdown


@event_priority(-100)  # after every other plugin changed the content
def on_page_content(html, page, config, files, **kwargs):
    clean = str(sanitize_html(html))
    for link in _anchors(page.toc):
        link.title = sanitize_html(link.title)
    if not isinstance(page.title, Markup):  # no title in front matter or navigation: the first heading's text
        page.meta["title"] = rendered_text(page.title or "")
    return clean


def _anchors(toc):
    for link in toc:
        yield link
        yield from _anchors(link.children)
