"""Articles from resolved tickets: the repository's templates rendered from a real ticket, the draft through
the API, the CLI and the ticket page, and the stage «база знаний обновлена» recorded on publish."""

from __future__ import annotations

import git
import pytest
from typer.testing import CliRunner

from portal.cli import app as cli_app
from portal.errors import Conflict, Invalid
from portal.knowledge import service
from portal.tickets import service as tickets
from tests.accounts.test_pages import csrf_of, login


def test_problem_template_renders_the_ticket(resolved_ticket, writer, db, settings):
    ticket_id = resolved_ticket(steps_to_reproduce="1. Открыть страницу магазина.\n2. Данных в RUM нет.")
    with db.session_scope() as session:
        article = service.create_from_ticket(session=session, settings=settings, actor=writer,
                                             ticket_id=ticket_id.lower(), kind="problem")
    meta, body = article.meta, article.body
    assert meta.title == "Агент не отправляет данные" and meta.status == "draft"
    assert meta.tickets == [ticket_id] and meta.module == "RUM-агент" and meta.product_versions == ["5.2"]
    assert meta.visibility == "customers" and meta.kind == "problem" and meta.authors == ["sokolova"]
    assert body.startswith("## Симптомы\n\nПосле обновления браузера данных нет.")  # the title is front matter
    assert "## Как воспроизвести\n\n1. Открыть страницу магазина." in body
    assert "## Причина\n\nАгент RUM 5.2 не читает ключ" in body
    assert '!!! success "Решение"\n    1. Обновите агент до 5.2.1.\n    2. Очистите кэш браузера.' in body
    assert '!!! tip "Обходное решение"\n    Укажите ключ в параметре key' in body
    assert f"[{ticket_id}](http://127.0.0.1:8000/tickets/{ticket_id})" in body
    repo = git.Repo(settings.content_path)
    try:
        commit = repo.commit(article.commit)
        assert commit.author.email == "sokolova@primoart.example" and ticket_id in commit.message
    finally:
        repo.close()


@pytest.mark.parametrize("kind", ["known_issue", "consultation", "howto"])
def test_every_kind_has_a_russian_template(kind, resolved_ticket, writer, db, settings):
    ticket_id = resolved_ticket()
    with db.session_scope() as session:
        article = service.create_from_ticket(session=session, settings=settings, actor=writer,
                                             ticket_id=ticket_id, kind=kind)
    assert article.meta.kind == kind and ticket_id in article.body
    assert "Обновите агент до 5.2.1" in article.body or "Укажите ключ" in article.body
    assert "{{" not in article.body and "{%" not in article.body


def test_unresolved_tickets_and_broken_templates_are_refused(resolved_ticket, writer, db, settings, content_repo):
    open_ticket = resolved_ticket(status="in_analysis")
    with db.session_scope() as session, pytest.raises(Conflict) as exc:
        service.create_from_ticket(session=session, settings=settings, actor=writer, ticket_id=open_ticket,
                                   kind="problem")
    assert "ещё не решена" in exc.value.detail
    ticket_id = resolved_ticket()
    with content_repo.writing():  # a writer edits the template through git
        content_repo.commit_files(files={"kb/templates/howto.md.j2": "# {{ ticket.summary }}\n\n{{ ticket.nope }}\n"},
                                  message="Шаблон с ошибкой")
    with db.session_scope() as session, pytest.raises(Invalid) as exc:
        service.create_from_ticket(session=session, settings=settings, actor=writer, ticket_id=ticket_id,
                                   kind="howto")
    assert exc.value.errors[0]["field"] == "template" and "howto.md.j2" in exc.value.detail
    with content_repo.writing():
        content_repo.commit_files(files={"kb/templates/howto.md.j2": "# Как: {{ ticket.summary }}\n"},
                                  message="Новый шаблон")
    with db.session_scope() as session:
        article = service.create_from_ticket(session=session, settings=settings, actor=writer,
                                             ticket_id=ticket_id, kind="howto")
    assert article.body == "# Как: Агент не отправляет данные\n"
    with content_repo.writing():
        content_repo.commit_files(files={"kb/templates/howto.md.j2": "{{ ticket.__class__.__mro__ }}\n"},
                                  message="Попытка выйти из песочницы")
    with db.session_scope() as session, pytest.raises(Invalid):
        service.create_from_ticket(session=session, settings=settings, actor=writer, ticket_id=ticket_id,
                                   kind="howto")


def test_publishing_records_the_knowledge_base_stage_on_the_ticket(resolved_ticket, writer, db, settings):
    ticket_id = resolved_ticket()
    with db.session_scope() as session:
        article = service.create_from_ticket(session=session, settings=settings, actor=writer, ticket_id=ticket_id,
                                             kind="problem")
    with db.session_scope() as session:
        published = service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    with db.session_scope(write=False) as session:
        ticket = tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id)
        events = [e for e in tickets.history(session=session, ticket=ticket, user=writer)
                  if e.kind == "kb_updated"]
        assert len(events) == 1
        assert events[0].public and events[0].details["slug"] == article.slug
        assert events[0].details["commit"] == published.commit
        assert "Агент не отправляет данные" in events[0].comment


def test_api_cli_and_ticket_page(resolved_ticket, api, client, make, db, settings, monkeypatch):
    customer = make.user("customer", username="ivanova")
    ticket_id = resolved_ticket(customer)
    writer = make.user("writer", username="sokolova", full_name="Мария Соколова")
    support = make.user("support")
    r = api.post(writer, "/api/v1/articles", json={"ticket_id": ticket_id, "kind": "problem"})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["slug"] == "agent-ne-otpravlyaet-dannye" and draft["front_matter"]["tickets"] == [ticket_id]
    assert "## Симптомы" in draft["body"]
    assert api.post(support, "/api/v1/articles", json={"ticket_id": ticket_id, "kind": "howto"}).status_code == 201
    assert api.post(customer, "/api/v1/articles", json={"ticket_id": ticket_id, "kind": "howto"}).status_code == 403
    r = api.post(writer, "/api/v1/articles", json={"ticket_id": "PRM-2026-99999", "kind": "howto"})
    assert r.status_code == 404

    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "cli-test-secret")
    out = CliRunner().invoke(cli_app, ["kb", "new", "--from-ticket", ticket_id, "--kind", "known_issue",
                                       "--as", "sokolova"])
    assert out.exit_code == 0, out.output
    assert "agent-ne-otpravlyaet-dannye-3" in out.output and "portal kb publish" in out.output

    # The ticket page lists the ticket's articles the reader may see.
    api.post(writer, f"/api/v1/articles/{draft['slug']}/publish")
    login(client, "ivanova")
    page = client.get(f"/tickets/{ticket_id}", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="ticket-articles"' in page.text
    assert f'href="/kb/problems/{draft["slug"]}/"' in page.text
    assert "agent-ne-otpravlyaet-dannye-2" not in page.text  # the support's draft is staff-only
    assert "Написать статью по заявке" not in page.text
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    login(client, "sokolova")
    page = client.get(f"/tickets/{ticket_id}", headers={"accept": "text/html"})
    assert "Написать статью по заявке" in page.text and "/articles/agent-ne-otpravlyaet-dannye-3" in page.text
    created = client.post("/articles/from-ticket", data={"ticket_id": ticket_id, "kind": "consultation",
                                                         "csrf_token": csrf_of(page.text)},
                          headers={"accept": "text/html"})
    assert created.status_code == 303 and created.headers["location"].endswith("/edit")
