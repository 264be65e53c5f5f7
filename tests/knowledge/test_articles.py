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
