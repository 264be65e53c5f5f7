"""The site editions carry no executable markup, whatever writers and customers typed: one real MkDocs build
of many hostile articles (title, summary, tags, module, body, section title, an article drafted from a
customer's ticket), every built page and search index entry checked, titles shown as typed."""

from __future__ import annotations

import html
import json
import re

from portal.knowledge import site
from tests.knowledge.hostile_site import P, check_edition, publish_hostile


def test_hostile_articles_build_into_editions_without_executable_markup(writer, db, settings, content_repo, make,
                                                                        resolved_ticket):
    customer = make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova")
    published = publish_hostile(db=db, settings=settings, content_repo=content_repo, writer=writer,
                                customer=customer, resolved_ticket=resolved_ticket)
    results = site.build(settings=settings, db=db, editions=["staff", "customers"])
    assert {(r.edition, r.status) for r in results} == {("staff", "built"), ("customers", "built")}, \
        [r.error for r in results]

    for edition in ("staff", "customers"):
        root = site.edition_dir(settings, edition)
        problems = check_edition(root)
        assert not problems, "\n".join(problems[:40])

    customers = site.edition_dir(settings, "customers")
    # Every hostile article is there, its title escaped once: shown as typed, never double-escaped.
    page = (customers / site.page_url(published.first) / "index.html").read_text()
    typed = published.titles[0]
    assert f"<title>{html.escape(typed, quote=False)} - " in page.replace("&#34;", '"').replace("&#39;", "'")
    assert "&amp;lt;" not in page
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
    assert html.unescape(re.sub(r"<[^>]+>", "", h1)).replace("¶", "").strip() == typed
    # Navigation and the tags page show the titles as text.
    tags = (customers / "tags" / "index.html").read_text()
    for title in published.titles:
        assert html.escape(title, quote=False) in tags.replace("&#34;", '"').replace("&#39;", "'"), title
    # The section title from a hostile index.md, as text in the navigation.
    section = (customers / published.hostile_section / "index.html").read_text()
    assert f"&lt;img src=x onerror={P}&gt;" in section
    # The article drafted from the customer's ticket: the customer's words as text, none of them as markup.
    drafted = (customers / site.page_url(published.from_ticket) / "index.html").read_text()
    assert "Не работает" in drafted
    # Search: every hostile article is findable by its title, the title escaped.
    docs = json.loads((customers / "search" / "search_index.json").read_text())["docs"]
    assert html.escape(typed, quote=False) in {d["title"] for d in docs}

    # The internal canary never reaches the customers edition, hostile or not.
    def text_of(root):  # the search index decoded: its JSON escapes every non-ASCII character
        return "\n".join(json.dumps(json.loads(p.read_text()), ensure_ascii=False) if p.suffix == ".json"
                         else p.read_text(errors="replace")
                         for p in root.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".xml"))

    assert published.canary not in text_of(customers)
    assert published.canary in text_of(site.edition_dir(settings, "staff"))
