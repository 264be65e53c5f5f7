"""The portal's header for the pages of /kb/ (``GET /api/v1/me/header``, filled in by the theme's script) and
the article a new ticket cites (``/tickets/new?article=<slug>``), over real HTTP."""

from __future__ import annotations

from portal.knowledge import service
from tests.accounts.test_pages import login

HTML = {"accept": "text/html"}


def test_header_for_a_reader_and_for_an_anonymous_visitor(client, make):
    org = make.org("romashka", "ООО Ромашка")
    make.user("customer", org, username="ivanova", full_name="Анна Иванова")
    anonymous = client.get("/api/v1/me/header", params={"page": "/kb/support/"})
    assert anonymous.status_code == 200 and anonymous.headers["cache-control"] == "no-store"
    data = anonymous.json()
    assert data["portal"] == "primoart-support" and data["user"] is None and data["nav"] == []
    assert data["login"]["url"] == "/login?next=/kb/support/" and not data["can_create_ticket"]
    outside = client.get("/api/v1/me/header", params={"page": "https://evil.example/"}).json()
    assert outside["login"]["url"] == "/login?next=/kb/"  # only a page of the site is returned to

    login(client, "ivanova")
    data = client.get("/api/v1/me/header").json()
    assert data["user"]["label"] == "Анна Иванова · заказчик · ООО Ромашка"
    urls = [item["url"] for item in data["nav"]]
    assert "/tickets/new" in urls and "/tickets/queue" not in urls and "/articles" not in urls
    assert [item["url"] for item in data["nav"] if item["current"]] == ["/kb/"]
    assert data["can_create_ticket"] is True
    # The sign-out form's token is the one the portal checks: signing out with it works.
    out = client.post(data["logout"]["url"], data={data["logout"]["field"]: data["logout"]["token"]}, headers=HTML)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/api/v1/me/header").json()["user"] is None


def test_new_ticket_cites_only_an_article_the_reader_may_read(client, make, db, settings, writer, write_article):
    shown = write_article(writer, title="Агент RUM не отправляет данные", visibility="customers")
    hidden = write_article(writer, title="Внутренний разбор утечки памяти", visibility="internal")
    draft = write_article(writer, title="Черновик о задержках", visibility="customers")
    for article in (shown, hidden):
        with db.session_scope() as session:
            service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)
    org = make.org("romashka", "ООО Ромашка")
    make.user("customer", org, username="ivanova", full_name="Анна Иванова")
    login(client, "ivanova")

    page = client.get(f"/tickets/new?article={shown.slug}", headers=HTML)
    assert page.status_code == 200 and 'data-testid="cited-article"' in page.text
    assert f'href="{shown.url}"' in page.text and "Агент RUM не отправляет данные" in page.text
    assert f"{settings.base_url}{shown.url}" in page.text  # in the description the customer sends

    plain = client.get("/tickets/new", headers=HTML).text
    for ref in (hidden.slug, draft.slug, "no-such-article", "../../etc"):
        answer = client.get("/tickets/new", params={"article": ref}, headers=HTML)
        assert answer.status_code == 200 and 'data-testid="cited-article"' not in answer.text, ref
        assert "Внутренний разбор" not in answer.text
    assert 'data-testid="cited-article"' not in plain
