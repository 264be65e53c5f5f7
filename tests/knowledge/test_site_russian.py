"""A real build speaks Russian: a section without a title of its own is named by a Russian label (never its
folder's English name), and the last-updated date is the day in the portal's time zone."""

from __future__ import annotations

import re

from portal.knowledge import service, site


def _publish(db, settings, writer, article):
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)


def test_section_titles_and_dates_are_russian(writer, write_article, db, settings, content_repo, monkeypatch):
    # 22:30 UTC on the 1st of March is already the 2nd in Moscow (PORTAL_TIMEZONE's default).
    monkeypatch.setenv("GIT_AUTHOR_DATE", "1772404200 +0000")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1772404200 +0000")
    problem = write_article(writer, title="Агент RUM не отправляет данные", kind="problem")  # section problems
    known = write_article(writer, title="Задержка отчётов при смене часового пояса", kind="known_issue",
                          section="integrations")
    other = write_article(writer, title="Настройка прокси для коллектора", kind="howto", section="network")
    for article in (problem, known, other):
        _publish(db, settings, writer, article)
    assert settings.timezone == "Europe/Moscow"
    assert {r.status for r in site.build(settings=settings, db=db, editions=["customers"])} == {"built"}
    root = site.edition_dir(settings, "customers")

    html = (root / "problems" / problem.slug / "index.html").read_text()
    nav_text = re.sub(r"<[^>]+>", " ", (root / "portal-nav.html").read_text())  # the edition's navigation
    for russian in ("Решения проблем", "Известные проблемы", "Инструкции", "Работа со службой поддержки"):
        assert russian in nav_text, russian
    for english in ("Problems", "Integrations", "Network", "problems", "integrations"):
        assert not re.search(rf"\b{english}\b", nav_text), english
    assert "<title>Агент RUM не отправляет данные - База знаний PrimoART</title>" in html
    updated = re.search(r'md-source-file__fact.*?</span>\s*([0-9.]+)\s*</span>', html, re.S)
    assert updated and updated.group(1) == "02.03.2026"
    # A section without index.md gets a title page of its own, listing its articles.
    section_page = (root / "problems" / "index.html").read_text()
    assert "Решения проблем" in section_page and f'href="{problem.slug}/"' in section_page
    # Material's own words are Russian (theme language ru).
    assert 'lang="ru"' in html and "Содержание" in html
    for english in ("Table of contents", "Last update", "Back to top", "Made with"):
        assert english not in html, english
