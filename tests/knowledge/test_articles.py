"""The article schema: every invalid field named in Russian; safe names; parsing files."""

from __future__ import annotations

import pytest

from portal.errors import Invalid
from portal.knowledge import articles


def valid(**kw):
    return {"title": "Агент RUM не отправляет данные", "kind": "problem", "visibility": "customers", **kw}


def test_valid_front_matter_is_normalised():
    fm = articles.check_front_matter(valid(tickets="prm-2026-00042, PRM-2026-00043", tags=["rum", "rum", " агент "],
                                           product_versions=[4.2]))
    assert fm.tickets == ["PRM-2026-00042", "PRM-2026-00043"]
    assert fm.tags == ["rum", "агент"]
    assert fm.product_versions == ["4.2"]
    assert fm.status == "draft"


def test_each_invalid_field_is_named_in_russian():
    with pytest.raises(Invalid) as exc:
        articles.check_front_matter({"title": "", "kind": "essay", "visibility": "everyone", "tickets": ["42"],
                                     "colour": "red"})
    fields = {e["field"]: e for e in exc.value.errors}
    assert set(fields) == {"title", "kind", "visibility", "tickets", "colour"}
    assert fields["title"]["label"] == "Заголовок"
    assert "не меньше 1" in fields["title"]["message"]
    assert "problem" in fields["kind"]["message"] and "howto" in fields["kind"]["message"]
    assert "PRM-2026-00042" in fields["tickets"]["message"]
    assert "неизвестное поле" in fields["colour"]["message"]
    assert "Тип статьи" in exc.value.detail and "Видимость" in exc.value.detail


def test_missing_kind_is_named():
    with pytest.raises(Invalid) as exc:
        articles.check_front_matter({"title": "Без типа"})
    assert exc.value.errors[0]["field"] == "kind"
    assert exc.value.errors[0]["message"] == "обязательное поле не заполнено"


@pytest.mark.parametrize("name", ["--force", "../etc", "a/b", "Upper", "-x", "x-", "", "a" * 81, "пример", "a b"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(Invalid):
        articles.check_name(name, what="slug")


def test_safe_paths_and_slugs():
    assert articles.article_path("known-issues", "rum-agent-4-2") == "kb/known-issues/rum-agent-4-2.md"
    assert articles.slugify("Агент RUM 4.2: нет данных в отчёте «Сессии»") == "agent-rum-4-2-net-dannyh-v-otchete-sessii"
    assert articles.slugify("!!!") == "article"
    assert articles.split_path("kb/support/how-to.md") == ("support", "how-to")
    assert articles.split_path("kb/support/index.md") is None
    assert articles.split_path("kb/templates/problem.md") is None
    assert articles.split_path("kb/a/b/c.md") is None


def test_parse_reports_broken_yaml_and_keeps_body():
    text = "---\ntitle: Заголовок\nkind: howto\n---\n\nТекст статьи.\n"
    article = articles.parse(text, section="howto", slug="x")
    assert article.body == "Текст статьи.\n" and article.meta.kind == "howto"
    assert article.visibility == "internal"  # a draft is staff-only whatever its front matter says
    with pytest.raises(Invalid) as exc:
        articles.parse("---\ntitle: [oops\n---\nТекст", section="howto", slug="x")
    assert exc.value.errors[0]["field"] == "front_matter"


def test_publishing_needs_summary_and_text():
    fm = articles.check_front_matter(valid())
    with pytest.raises(Invalid) as exc:
        articles.check_publishable(fm, "  ")
    assert {e["field"] for e in exc.value.errors} == {"summary", "body"}


def test_a_published_article_with_an_invalid_field_is_neither_indexed_nor_built_but_reported(
        settings, db, content_repo, client, make):
    """One invalid field (an unknown kind) used to be indexed by search's lenient parser while the site left the
    page out: a hit pointing at a missing page. Now both leave it out and the writer is told."""
    from portal.knowledge import service, site
    from portal.search.index import SearchRequest, WhooshIndex
    from tests.accounts.test_pages import login
    from tests.search.corpus import article_text

    common = dict(summary="Кратко.", module="rum", visibility="public")
    good = article_text(dict(path="kb/howto/valid-page.md", title="Годная статья", kind="howto",
                             body="Слово годноеслово.", **common))
    bad = article_text(dict(path="kb/howto/broken-page.md", title="Сломанная статья", kind="essay",
                            body="Слово сломанноеслово.", **common))
    with content_repo.write_lock():
        content_repo.commit_files(files={"kb/howto/valid-page.md": good, "kb/howto/broken-page.md": bad},
                                  message="Годная и сломанная статьи")

    index = WhooshIndex(settings)
    everyone = ("public", "customers", "internal")
    assert [h.slug for h in index.search(SearchRequest(text="годноеслово", audiences=everyone)).hits] == ["valid-page"]
    assert index.search(SearchRequest(text="сломанноеслово", audiences=everyone)).hits == []

    [result] = site.build(settings=settings, db=db, editions=["public"], force=True)
    assert result.status == "built", result.error
    edition = site.edition_dir(settings, "public")
    assert (edition / "howto" / "valid-page" / "index.html").exists()
    assert not (edition / "howto" / "broken-page").exists()

    report = service.check(settings=settings)
    assert [p.path for p in report.problems] == ["kb/howto/broken-page.md"]
    assert "Тип статьи" in report.problems[0].message
    assert [e.path for e in service.invalid_articles(settings=settings)] == ["kb/howto/broken-page.md"]

    make.user("writer", username="sokolova")
    login(client, "sokolova")
    page = client.get("/articles", headers={"accept": "text/html"})
    assert page.status_code == 200
    invalid = page.text.split('data-testid="kb-invalid"', 1)[1].split("</section>", 1)[0]
    assert "kb/howto/broken-page.md" in invalid and "Тип статьи" in invalid and "valid-page" not in invalid


def test_one_default_visibility_for_a_new_article(db, settings, content_repo, api, make):
    """Written from scratch (API, pages, service) or from a ticket's template: customers unless the writer says."""
    from portal.knowledge import service

    assert articles.DEFAULT_VISIBILITY == "customers"
    writer = make.user("writer")
    r = api.post(writer, "/api/v1/articles", json={"title": "Без видимости", "kind": "howto"})
    assert r.status_code == 201, r.text
    assert r.json()["front_matter"]["visibility"] == articles.DEFAULT_VISIBILITY
    with db.session_scope() as session:
        article = service.create_article(session=session, settings=settings, actor=writer,
                                         front_matter={"title": "Тоже без видимости", "kind": "howto"}, body="")
    assert article.meta.visibility == articles.DEFAULT_VISIBILITY
    # A hand-written file that states none is read as staff-only: a missing field never widens who reads it.
    assert articles.parse("---\ntitle: x\nkind: howto\n---\n", section="s", slug="x").meta.visibility == "internal"
