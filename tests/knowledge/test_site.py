"""Real MkDocs builds: editions from one commit, nothing of an internal article in the customers edition,
build state in the database, a failed build that keeps the commit and shows MkDocs' error."""

from __future__ import annotations

import json

from portal.knowledge import render, service, site
from portal.knowledge.models import SiteBuild


def _all_text(root) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*")
                     if p.is_file() and p.suffix in (".html", ".json", ".xml", ".txt"))


def _search_docs(root) -> list[dict]:
    return json.loads((root / "search" / "search_index.json").read_text())["docs"]


def test_editions_from_one_commit_and_internal_articles_stay_out(writer, write_article, db, settings, content_repo):
    internal = write_article(writer, title="Внутренний разбор утечки памяти коллектора", visibility="internal",
                             section="problems", module="Коллектор",
                             body="## Симптомы\n\nСекретноеслово в журнале коллектора.\n")
    public = write_article(writer, title="Агент RUM не отправляет данные", visibility="public", section="problems",
                           module="RUM-агент", tags=["rum"], tickets=["PRM-2026-00042"],
                           body='## Причина\n\nНеверный ключ.\n\n!!! success "Решение"\n    Укажите ключ.\n')
    for article in (internal, public):
        with db.session_scope() as session:
            service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    head = content_repo.head()
    phases = []
    results = site.build(settings=settings, db=db, progress=lambda e, stage: phases.append((e, stage)))
    assert {(r.edition, r.status) for r in results} == {("staff", "built"), ("customers", "built"),
                                                         ("public", "built")}
    assert {r.commit for r in results} == {head}
    assert ("customers", "prepare") in phases and ("staff", "built") in phases

    staff, customers, public_site = (site.edition_dir(settings, e) for e in ("staff", "customers", "public"))
    # Staff see everything published, with links to the tickets.
    page = (staff / "problems" / internal.slug / "index.html").read_text()
    assert "Секретноеслово" in page
    assert any(d["title"] == internal.title for d in _search_docs(staff))
    staff_public = (staff / "problems" / public.slug / "index.html").read_text()
    assert 'href="/tickets/PRM-2026-00042"' in staff_public
    # Customers: no page, no title, no text, no search entry, no sitemap line.
    assert not (customers / "problems" / internal.slug).exists()
    everything = _all_text(customers)
    for secret in ("Секретноеслово", internal.title, internal.slug, "triage-checklist",
                   "Памятка второй линии"):
        assert secret not in everything, secret
    assert not any("Памятка" in d["title"] or "Секретноеслово" in d["text"] for d in _search_docs(customers))
    assert internal.slug not in (customers / "sitemap.xml").read_text()
    assert public.slug in (customers / "sitemap.xml").read_text()
    # The public edition has only public articles: the customers-only starter articles are absent too.
    assert (public_site / "support" / "how-to-file-a-request" / "index.html").exists()
    assert not (public_site / "process" / "fix-delivery").exists()
    assert (customers / "process" / "fix-delivery" / "index.html").exists()

    # The page itself: theme language, admonition, last-updated date from git, tags, facts, navigation.
    html = (customers / "problems" / public.slug / "index.html").read_text()
    assert '<html lang="ru"' in html
    assert 'class="admonition success"' in html and "Решение" in html
    assert "md-source-file" in html
    assert "PRM-2026-00042" in html and 'href="/tickets/PRM' not in html  # no link to the ticket page
    # The navigation is one fragment of the edition, which every page's placeholder loads (nav.js).
    assert 'data-portal-nav="../../portal-nav.html"' in html and "portal/nav.js" in html
    assert "RUM-агент" in html  # the article's facts
    navigation = (customers / "portal-nav.html").read_text()
    assert "Коллектор" in (staff / "portal-nav.html").read_text()  # modules: groups inside a section
    assert "Работа со службой поддержки" in navigation  # section title from kb/support/index.md
    assert public.slug in navigation and internal.slug not in navigation
    assert (customers / "tags" / "index.html").exists()
    assert "fonts.googleapis" not in html
    assert json.loads((customers / "search" / "search_index.json").read_text())["config"]["lang"] == ["ru", "en"]

    # Up to date: nothing to do; the database says built at this commit.
    assert {r.status for r in site.build(settings=settings, db=db)} == {"skipped"}
    with db.session_scope(write=False) as session:
        states = site.states(session)
        assert {s.status for s in states.values()} == {"built"} and states["staff"].commit == head
        assert states["customers"].pages < states["staff"].pages

    # Archive: the article leaves the editions at the next build; a failed build keeps the commit.
    with db.session_scope() as session:
        archived = service.archive_article(session=session, settings=settings, actor=writer, slug=public.slug)
    content_repo_text = (settings.content_path / "mkdocs.yml").read_text()
    with content_repo.writing():
        broken = content_repo.commit_files(files={"mkdocs.yml": content_repo_text.replace(
            "  - attr_list", "  - no_such_markdown_extension")}, message="Сломанная настройка")
    results = site.build(settings=settings, db=db, editions=["customers"])
    assert results[0].status == "failed" and "no_such_markdown_extension" in results[0].error
    assert content_repo.head() == broken and archived.commit != broken  # the commits stand
    assert (customers / "problems" / public.slug / "index.html").exists()  # the last good site is still served
    with db.session_scope(write=False) as session:
        row = site.latest(session, "customers")
        assert (row.status, row.commit) == ("failed", broken) and "no_such_markdown_extension" in row.error
        assert session.query(SiteBuild).count() == 4
        assert not site.is_stale(session, settings, "customers", broken)  # no retry loop on the same commit


def test_preview_uses_the_sites_markdown_extensions(settings, content_repo):
    html = render.article_html(settings=settings, body='!!! tip "Обходное решение"\n    Перезапустите.\n\n'
                                                          "| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert 'class="admonition tip"' in html and "<table>" in html


def test_hooks_and_plugins_of_mkdocs_yml_are_not_carried_into_builds(settings):
    config = site.read_config("site_name: X\nhooks: [evil.py]\nplugins: [search, tags, macros]\n"
                              "theme: {name: material, custom_dir: overrides}\nextra: {polyfills: [evil.js]}\n")
    built = site._edition_config(settings, config, settings.home_path, settings.home_path, [], "customers")
    assert built["hooks"] == [str(site.HOOKS_FILE)]  # only the portal's own
    assert built["theme"]["custom_dir"] == str(site.THEME_DIR)
    assert "polyfills" not in built["extra"]
    assert [p if isinstance(p, str) else next(iter(p)) for p in built["plugins"]] == ["search", "tags"]
    assert built["theme"]["font"] is False
