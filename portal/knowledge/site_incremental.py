"""The incremental build of one edition: only the pages whose HTML changed are rendered again.

Run out of the web process by ``site.py``, in the node's warm build worker (``site_worker.py``: a long-lived
process that has imported MkDocs and Material already; every stale edition in one request), or by hand as
``python -m portal.knowledge.site_incremental --batch FILE``. Like ``mkdocs build``,
it loads the same generated configuration (the same theme, plugins and the portal's hooks) and drives MkDocs'
own build steps through its Python API, in the order ``mkdocs.commands.build.build`` takes them:

1. configuration, files and navigation as a full build makes them (cheap: no Markdown is rendered);
2. every page's source is read and passes the ``page_markdown`` event (the tags plugin collects every page's
   tags there, so the tags page lists all of them), but only the pages whose key changed
   (``mkdocs_hooks.page_keys``: source, URL, sections, previous and next page), the pages holding a tags
   listing and the pages linking to a page that appeared, left or moved (the link resolves differently) —
   are rendered to HTML and written;
3. the theme's templates (sitemap, 404), the navigation fragment and the search index are written whole; the
   search index keeps the entries of the pages not rendered again from the edition being replaced, in the
   order a full build writes them;
4. pages and media no longer in the edition are removed, changed media copied.

``site_dir`` is a hard-linked copy of the edition being served (made by ``site.py``); every file is written as
a new inode (``mkdocs_hooks.write_file_replacing`` or an unlink before MkDocs writes), so the served edition
never changes under a reader, and ``site.py`` swaps the new directory in with one rename. The result is the
same tree a full build of the commit produces — ``tests/knowledge/test_site_incremental.py`` holds it to that.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import shutil
import sys
import time
import traceback
from pathlib import Path

from mkdocs.commands import build as mkbuild
from mkdocs.config import load_config
from mkdocs.structure.files import InclusionLevel
from mkdocs.structure.nav import get_navigation
from mkdocs.structure.pages import Page

from portal.knowledge import mkdocs_hooks

TAGS_LISTING_MARK = "<!-- material/tags"
SEARCH_INDEX = Path("search") / "search_index.json"
# Links to other pages, inline or reference-style. Broader than what MkDocs resolves on purpose: a false match
# only re-renders one more page, a missed one would leave a stale link until the full build.
PAGE_LINK_RE = re.compile(r"(?:\]\(\s*<?|^\s*\[[^\]]+\]:\s*<?)([^)\s>#?]+\.md)", re.MULTILINE)


def _unlink(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _page_location(location: str) -> str:
    return location.split("#", 1)[0]


def _links_moved(page: Page, moved: set[str]) -> bool:
    """Whether the page links to one of ``moved`` (sources whose page appeared, left or changed its URL)."""
    if not moved:
        return False
    assert page.markdown is not None
    here = posixpath.dirname(page.file.src_uri)
    for target in PAGE_LINK_RE.findall(page.markdown):
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(here, target))
        if resolved in moved:
            return True
    return False


def build(config_file: str, previous_manifest: dict) -> dict:
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(timings.get(name, 0.0) + now - clock, 3)
        clock = now

    config = load_config(config_file)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        config = config.plugins.on_config(config)
        config.plugins.on_pre_build(config=config)
        site_dir = Path(config.site_dir)
        files = mkbuild.get_files(config)
        env = config.theme.get_env()
        mkdocs_hooks.cache_templates(env)
        # The theme's own files (assets) are not added: they are in the hard-linked copy already, the
        # configuration key holds the theme, and listing Material's thousands of icons costs half a second.
        files = config.plugins.on_files(files, config=config)
        mkbuild.set_exclusions(files, config)
        nav = get_navigation(files, config)
        nav = config.plugins.on_nav(nav, config=config, files=files)
        manifest = mkdocs_hooks.manifest(nav, files, config)
        keys, media = manifest["pages"], manifest["media"]
        lap("config_files_nav")

        inclusion = InclusionLevel.is_included
        doc_files = files.documentation_pages(inclusion=inclusion)
        old_keys: dict[str, str] = previous_manifest.get("pages", {})
        old_dest: dict[str, str] = previous_manifest.get("dest", {})
        moved = {src for src in set(old_dest) | set(manifest["dest"])
                 if old_dest.get(src) != manifest["dest"].get(src)}
        render = []
        for file in doc_files:
            if file.page is None and file.inclusion.is_not_in_nav():
                Page(None, file, config)
            page = file.page
            assert page is not None
            # _populate_page up to the Markdown: every page, so plugins see all of them (the tags listing)
            config.plugins.on_pre_page(page, config=config, files=files)
            page.read_source(config)
            assert page.markdown is not None
            listing = TAGS_LISTING_MARK in page.markdown
            page.markdown = config.plugins.on_page_markdown(page.markdown, page=page, config=config, files=files)
            if (listing or old_keys.get(file.src_uri) != keys[file.src_uri]
                    or _links_moved(page, moved)):
                render.append(page)
        lap("read_sources")
        for page in render:  # the rest of _populate_page
            page.render(config, files)
            assert page.content is not None
            page.content = config.plugins.on_page_content(page.content, page=page, config=config, files=files)
        lap("markdown")
        env = config.plugins.on_env(env, config=config, files=files)

        for template in config.theme.static_templates:
            _unlink(site_dir / template)
            if template == "sitemap.xml":
                _unlink(site_dir / "sitemap.xml.gz")
            mkbuild._build_theme_template(template, env, files, config, nav)
        lap("theme_templates")
        for page in render:
            _unlink(page.file.abs_dest_path)
            mkbuild._build_page(page, config, doc_files, nav, env, False, excluded=page.file.inclusion.is_excluded())
        lap("render_pages")

        # Pages and media that left the edition; changed media.
        for dest_uri in set(previous_manifest.get("dest", {}).values()) - set(manifest["dest"].values()):
            _unlink(site_dir / dest_uri)
            _remove_empty_dirs((site_dir / dest_uri).parent, site_dir)
        old_media: dict[str, str] = previous_manifest.get("media", {})
        by_src = {f.src_uri: f for f in files}
        for src_uri in set(old_media) - set(media):
            _unlink(site_dir / src_uri)
            _remove_empty_dirs((site_dir / src_uri).parent, site_dir)
        for src_uri, digest in media.items():
            if old_media.get(src_uri) != digest:
                file = by_src[src_uri]
                _unlink(file.abs_dest_path)
                Path(file.abs_dest_path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(str(file.abs_src_path), file.abs_dest_path)

        _write_search_index(config, site_dir, doc_files, {p.url for p in render})
        lap("search_index")
        mkdocs_hooks.write_file_replacing(site_dir / mkdocs_hooks.NAV_FRAGMENT,
                                          mkdocs_hooks.render_nav_fragment(config, nav, files, env).encode("utf-8"))
        lap("nav_fragment")
        return {"manifest": manifest, "rendered": [p.file.src_uri for p in render], "pages": len(doc_files),
                "timings": timings}
    finally:
        config.plugins.on_shutdown()


def _remove_empty_dirs(directory: Path, root: Path) -> None:
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _write_search_index(config, site_dir: Path, doc_files, rendered_urls: set[str]) -> None:
    """The search index a full build writes: the search plugin collected the rendered pages' entries; the
    other pages' entries come from the edition being replaced. A full build adds them page by page, in the
    order of ``files.documentation_pages()``."""
    plugin = config.plugins.get("material/search") or config.plugins.get("search")
    if plugin is None or not plugin.config.enabled:
        return
    path = site_dir / SEARCH_INDEX
    previous: dict[str, list[dict]] = {}
    if path.exists():
        for entry in json.loads(path.read_text(encoding="utf-8"))["docs"]:
            previous.setdefault(_page_location(entry["location"]), []).append(entry)
    fresh: dict[str, list[dict]] = {}
    for entry in plugin.search_index.entries:
        fresh.setdefault(_page_location(entry["location"]), []).append(entry)
    entries = []
    for file in doc_files:
        url = file.page.url
        entries += fresh.get(url, []) if url in rendered_urls else previous.get(url, [])
    plugin.search_index.entries = entries
    data = plugin.search_index.generate_search_index(None)
    mkdocs_hooks.write_file_replacing(path, data.encode("utf-8"))


def run_batch(batch: list[dict]) -> list[dict]:
    """Build each edition of ``batch`` ({edition, config_file, previous_manifest, manifest}); one report each."""
    reports = []
    for job in batch:
        try:
            previous = json.loads(Path(job["previous_manifest"]).read_text(encoding="utf-8"))
            result = build(job["config_file"], previous)
            mkdocs_hooks.write_file_replacing(job["manifest"], json.dumps(
                result.pop("manifest"), ensure_ascii=False, sort_keys=True).encode("utf-8"))
            reports.append({"edition": job["edition"], **result})
        except Exception:  # this edition is built in full instead; the others go on
            reports.append({"edition": job["edition"], "error": traceback.format_exc()[-4000:]})
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description="Incremental builds of knowledge-base editions, one process.")
    parser.add_argument("--batch", required=True, help="JSON: [{edition, config_file, previous_manifest, manifest}]")
    args = parser.parse_args()
    reports = run_batch(json.loads(Path(args.batch).read_text(encoding="utf-8")))
    sys.stdout.write(json.dumps(reports, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
