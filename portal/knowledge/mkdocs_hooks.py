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

For the incremental build (``site_incremental.py``) the hooks also write what it needs beside a full build:

* the navigation as one fragment (``NAV_FRAGMENT``), rendered once per build with Material's own navigation
  templates; the pages carry an empty placeholder that ``theme/assets/javascripts/portal/nav.js`` fills, so
  adding, renaming or moving an article does not change every page of the edition;
* a manifest (``PORTAL_KB_MANIFEST``, a file outside the site): for each page a key of everything its HTML
  depends on (its source, URL, section titles, and its previous and next page), and a hash of each media
  file — the incremental build re-renders exactly the pages whose key changed.

This file runs inside the MkDocs process (``site.run_mkdocs``), never in the web server. Hooks of the
content repository are never loaded (``site.CONFIG_KEYS``); this is the only code a build runs besides
MkDocs, Material and the Markdown extensions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from jinja2 import FileSystemBytecodeCache
from markupsafe import Markup, escape
from mkdocs.commands.build import get_context
from mkdocs.plugins import event_priority
from mkdocs.structure.nav import Link, Section
from mkdocs.structure.pages import Page

from portal.rendering import sanitize_html

_SLUG = re.compile(r"[a-z0-9-]+")
# What the portal itself writes into a page's front matter (site._page_text, site._filtered_docs).
# ``article``: the slug of an article's page (the theme links «Создать заявку» with it); a slug is [a-z0-9-].
PAGE_META_KEYS = frozenset({"title", "description", "tags", "revision_date", "article"})
NAV_FRAGMENT = "portal-nav.html"  # the navigation, beside the pages at the edition's root
NAV_TEMPLATE = "partials/nav-tree.html"  # Material's navigation partial (theme/partials/nav.html is the placeholder)
MANIFEST_ENV = "PORTAL_KB_MANIFEST"
TEMPLATE_CACHE_ENV = "PORTAL_KB_TEMPLATE_CACHE"  # a directory for Jinja's compiled templates, shared by builds
_built: dict[str, Any] = {}  # this build's navigation and files, kept from on_nav for on_post_build


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
    # The keys are taken now, as the incremental build takes them: later, pages' titles come from their sources.
    _built.update(nav=nav, files=files, manifest=manifest(nav, files, config))
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


# --- for the incremental build ----------------------------------------------------------------------

def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source_digest(page: Page) -> str:
    return _digest(Path(page.file.abs_src_path).read_bytes()) if page.file.abs_src_path else ""


def _neighbour(page: Page | None) -> list[str] | None:
    if page is None:
        return None
    return [page.file.src_uri, page.url, str(page.title or ""), _source_digest(page)]


def page_keys(nav, files) -> dict[str, str]:
    """For each page (by source path), a key of everything its HTML depends on besides the configuration and
    theme: its source, URL and title in the navigation, its sections' titles (breadcrumbs, tabs), and its
    previous and next pages (the footer links, ``<link rel=prev/next>``). Taken right after ``on_nav``."""
    keys = {}
    for file in files.documentation_pages():
        page = file.page
        if page is None:
            continue
        sections, parent = [], page.parent
        while parent is not None:
            sections.append(str(parent.title or ""))
            parent = parent.parent
        data = [file.src_uri, page.url, str(page.title or ""), _source_digest(page), sections,
                _neighbour(page.previous_page), _neighbour(page.next_page)]
        keys[file.src_uri] = _digest(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    return keys


def media_keys(files, docs_dir: str) -> dict[str, str]:
    """A hash of each file copied from the docs as it is (pictures, attachments)."""
    root = os.path.realpath(docs_dir)
    return {f.src_uri: _digest(Path(f.abs_src_path).read_bytes()) for f in files
            if not f.is_documentation_page() and f.abs_src_path
            and os.path.realpath(f.abs_src_path).startswith(root + os.sep)}


def manifest(nav, files, config) -> dict[str, Any]:
    """What the incremental build compares: page keys, where each page is written, media hashes."""
    return {"pages": page_keys(nav, files), "media": media_keys(files, config.docs_dir),
            "dest": {f.src_uri: f.dest_uri for f in files.documentation_pages()}}


def render_nav_fragment(config, nav, files, env=None) -> str:
    """The whole navigation, no page active (the script marks the reader's page), with every section's items
    present: the pruned form of Material's navigation exists only to keep each page small."""
    if env is None:
        env = config.theme.get_env()
        cache_templates(env)
    context = get_context(nav, files, config, page=None, base_url="")
    return env.get_template(NAV_TEMPLATE).render(**context)


def cache_templates(env) -> None:
    """Keep compiled theme templates between builds (Jinja's bytecode cache, keyed by each template's source):
    compiling Material's templates is a second of every build process, most of a small incremental build."""
    directory = os.environ.get(TEMPLATE_CACHE_ENV)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = FileSystemBytecodeCache(directory)


def on_env(env, config, files, **kwargs):
    cache_templates(env)
    return env


def write_file_replacing(path: str | os.PathLike, data: bytes) -> None:
    """Write a file as a new inode (a temporary name, then a rename): the incremental build works in a
    hard-linked copy of the edition being served, so writing into an existing file would change that one too."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def on_post_build(config, **kwargs):
    nav, files = _built.get("nav"), _built.get("files")
    if nav is None:
        return
    write_file_replacing(Path(config.site_dir) / NAV_FRAGMENT,
                         render_nav_fragment(config, nav, files).encode("utf-8"))
    manifest_file = os.environ.get(MANIFEST_ENV)
    if manifest_file:
        write_file_replacing(manifest_file, json.dumps(
            _built["manifest"],
            ensure_ascii=False, sort_keys=True).encode("utf-8"))
