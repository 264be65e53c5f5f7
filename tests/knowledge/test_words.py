"""The knowledge base's own words in the reader's language: the article's kinds, visibilities, statuses and field
names on the writers' pages and in API refusals, the build request's answer, `portal kb check`'s problems — and a
site edition whose theme is English titles its sections in English."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from portal.accounts.models import User
from portal.cli import app as cli_app
from portal.knowledge import service, site, store

CYRILLIC = re.compile("[А-Яа-яЁё]")


def _english(db, user):
    with db.session_scope() as session:
        session.get(User, user.id).language = "en"
    return user


def test_article_labels_follow_the_writers_language(db, api, make, writer, write_article):
    article = write_article(writer, title="Агент RUM не отправляет данные", kind="known_issue",
                            visibility="internal")
    english = _english(db, make.user("writer", username="smith"))

    ru = api.get(writer, f"/articles/{article.slug}")
    en = api.get(english, f"/articles/{article.slug}")
    assert ru.status_code == en.status_code == 200
    assert re.search(r'data-testid="article-status">черновик<', ru.text)
    assert "Известная проблема" in ru.text and "только сотрудникам" in ru.text
    assert re.search(r'data-testid="article-status">draft<', en.text)
    assert "Known issue" in en.text and "staff only" in en.text
    for russian in ("Известная проблема", "только сотрудникам", "черновик"):
        assert russian not in en.text, russian

    listing = api.get(english, "/articles").text
    assert "Known issue" in listing and "Известная проблема" not in listing


def test_an_invalid_article_is_refused_in_the_askers_language(db, api, make, writer, write_article):
    english = _english(db, make.user("writer", username="smith"))
    article = api.get(writer, f"/api/v1/articles/{write_article(writer).slug}").json()
    body = {"body": "x", "base_commit": article["commit"], "front_matter": {
        **article["front_matter"], "kind": "essay", "tickets": ["42"], "tags": [["nested"]]}}
    ru = api.put(writer, f"/api/v1/articles/{article['slug']}", json=body)
    en = api.put(english, f"/api/v1/articles/{article['slug']}", json=body)
    assert ru.status_code == en.status_code == 422
    assert ru.json()["detail"].startswith("Проверьте поля статьи — ")
    assert "Тип статьи" in ru.json()["detail"] and "не похож на PRM-2026-00042" in ru.json()["detail"]
    detail = en.json()["detail"]
    assert detail.startswith("Check the article's fields — "), detail
    assert "Article type: " in detail and "ticket ID “42” does not look like PRM-2026-00042" in detail
    assert "every item of the list must be a string" in detail
    labels = {e["field"]: e["label"] for e in en.json()["errors"]}
    assert labels["kind"] == "Article type" and labels["tickets"] == "Tickets"
    assert not CYRILLIC.search(str(en.json())), en.json()


def test_the_build_request_answers_in_the_askers_language(db, api, make, writer):
    english = _english(db, make.user("writer", username="smith"))
    ru = api.post(writer, "/api/v1/kb/build")
    en = api.post(english, "/api/v1/kb/build")
    assert ru.status_code == en.status_code == 202
    assert ru.json()["detail"] == "Сборка запрошена; состояние — GET /api/v1/kb/builds."
    assert en.json()["detail"] == "Build requested; see its state at GET /api/v1/kb/builds."


def test_kb_check_names_problems_in_the_operators_language(settings, content_repo, monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "cli-test-secret")
    with content_repo.writing():
        content_repo.commit_files(files={
            "kb/howto/missing-link.md": "---\ntitle: Ссылка\nkind: howto\n---\n\nСм. [нет такой](missing.md).\n",
            "kb/howto/leaky.md": "---\ntitle: Открытая\nkind: howto\nvisibility: public\nstatus: published\n---\n\n"
                                 "См. [памятку](../second-line/triage-checklist.md).\n",
            "kb/howto/Bad_Name.md": "---\ntitle: x\nkind: howto\n---\n",
        }, message="Статьи с ошибками")
    report = service.check(settings=settings)
    said = {(p.path, p.message) for p in report.problems}
    assert ("kb/howto/missing-link.md", "ссылка на несуществующую статью: missing.md") in said
    english = {(p.path, p.message.in_language("en")) for p in report.problems}
    assert ("kb/howto/missing-link.md", "link to an article that does not exist: missing.md") in english
    assert ("kb/howto/Bad_Name.md", "article file name: only lowercase Latin letters, digits and hyphens") in english
    leaky = next(text for path, text in english if path == "kb/howto/leaky.md")
    assert "narrower visibility (“staff only”)" in leaky and not CYRILLIC.search(leaky)

    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    out = CliRunner().invoke(cli_app, ["kb", "check"])
    assert out.exit_code == 1
    assert "kb/howto/missing-link.md: link to an article that does not exist: missing.md" in out.output
    assert "ссылка" not in out.output


def test_an_english_edition_titles_its_sections_in_english(writer, write_article, db, settings, content_repo):
    problem = write_article(writer, title="Агент RUM не отправляет данные", kind="problem", module="RUM",
                            product_versions=["5.2"], tickets=["PRM-2026-00011"])
    other = write_article(writer, title="Настройка прокси для коллектора", kind="howto", section="network")
    for article in (problem, other):
        with db.session_scope() as session:
            service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    config = store.read_text(content_repo, "mkdocs.yml")
    english = re.sub(r"(?m)^(\s+)language:\s*ru\b", r"\1language: en", config)
    assert english != config and site.edition_language(site.read_config(english)) == "en"
    with content_repo.writing():
        content_repo.commit_files(files={"mkdocs.yml": english}, message="Сайт на английском")
    assert {r.status for r in site.build(settings=settings, db=db, editions=["customers"])} == {"built"}
    root = site.edition_dir(settings, "customers")
    nav_text = re.sub(r"<[^>]+>", " ", (root / "portal-nav.html").read_text())
    assert "Problem solutions" in nav_text and "How-tos" in nav_text, nav_text
    assert "Решения проблем" not in nav_text and "Инструкции" not in nav_text
    assert "Problem solutions" in (root / "problems" / "index.html").read_text()
    page = (root / "problems" / problem.slug / "index.html").read_text()
    card = re.sub(r"<[^>]+>", "", re.search(r"<p>(<strong>.*?)</p>", page, re.S).group(1))  # the facts' line
    assert card == "Module: RUM · Versions: 5.2 · Tickets: PRM-2026-00011", card
    assert "Tags" in nav_text and "Теги" not in nav_text
    bare = site._edition_config(settings, site.read_config("theme: {name: material, language: en}\n"),
                                settings.home_path, settings.home_path, [], "customers")
    assert bare["site_name"] == "PrimoART knowledge base"  # when mkdocs.yml names none
    assert site.edition_language(site.read_config("site_name: X\n")) == "ru"
    assert site.edition_language(site.read_config("theme: {name: material, language: de}\n")) == "ru"


def test_editions_and_the_cited_article_follow_the_readers_language(db, api, make, writer, write_article, settings):
    english = _english(db, make.user("writer", username="smith"))
    article = write_article(writer, title="Агент RUM не отправляет данные", visibility="customers")
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    ru = api.get(writer, f"/api/v1/kb/articles/{article.slug}/live").json()
    en = api.get(english, f"/api/v1/kb/articles/{article.slug}/live").json()
    assert {e["edition"]: e["name"] for e in ru["editions"]} == \
        {"staff": "для сотрудников", "customers": "для заказчиков", "public": "открытая"}
    assert {e["edition"]: e["name"] for e in en["editions"]} == \
        {"staff": "for staff", "customers": "for customers", "public": "public"}

    customer = _english(db, make.user("customer", username="john"))
    page = api.get(customer, f"/tickets/new?article={article.slug}").text
    assert "The knowledge base article “Агент RUM не отправляет данные”" in page and "did not help." in page
    assert "не помогла" not in page
    russian = api.get(make.user("customer", username="ivan"), f"/tickets/new?article={article.slug}").text
    assert "Статья базы знаний «Агент RUM не отправляет данные»" in russian
